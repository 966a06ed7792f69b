import AMQP
import Contracts
import Logging
import ServiceKit
import ServiceLifecycle

/// Keeps the exporters' write reports (`calculator.writes`) in `shop_writes`, for `calculator explain`, and hands
/// the confirmations of guarded writes to the zero-oversell guard (units a shop confirmed it no longer shows are
/// freed and re-allocated at once).
///
/// Reports are taken in batches (whatever arrived, up to 500) and acknowledged once stored; an unreadable one is
/// dropped with a log line (the guard only frees units later: stock held back, never oversold).
struct WriteReportConsumer: Service {
    let queue: String
    let amqp: AMQPConnection
    let store: StockStore
    let relay: OutboxRelay
    let logger: Logger

    func run() async throws {
        guard await BrokerService.waitForFirstConnection(amqp, logger: logger) else { return }
        let consumer = amqp.consume(queue: queue, prefetch: 500)
        let buffer = DeliveryBuffer()
        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await buffer.fill(from: consumer) }
                while let batch = await buffer.take(max: 500, linger: .milliseconds(20)) { await keep(batch) }
                group.cancelAll()
            }
        } onGracefulShutdown: {
            consumer.cancel()
        }
    }

    private func keep(_ batch: [AMQPDelivery]) async {
        var reports: [WriteReport] = []
        for delivery in batch {
            do {
                reports.append(try WriteReport.decode(delivery.body))
            } catch {
                logger.warning("unreadable write report dropped", metadata: ["error": "\(error)"])
            }
        }
        do {
            try await store.record(reports)
            if reports.contains(where: { $0.writes.contains { $0.soldTotal != nil } }) {
                let outbox = try await store.reallocate(reports: reports, allGuarded: false, computedAtMillis: nowMillis())
                await relay.publishAndMark(outbox)
            }
            batch.last?.ack(multiple: true)
        } catch {
            logger.warning("write reports not stored; they come back", metadata: ["error": "\(error)"])
            try? await Task.sleep(for: .seconds(1))
            for d in batch { d.nack(requeue: true) }
        }
    }
}
