import AMQP
import Contracts
import Foundation
import Logging
import Postgres
import ServiceKit
import ServiceLifecycle

/// Consumes the calculator's queue in batches: decode, one transaction, publish from the outbox, then ack.
///
/// Two stages, pipelined: *commit* (decode and one transaction) and *settle* (publish the batch's outbox rows,
/// mark them sent, dead-letter its poison, acknowledge). While batch N settles, batch N+1's transaction runs;
/// settling stays in batch order, so an acknowledgement never covers a delivery whose batch is not settled.
/// At most `pipelineDepth` committed batches wait to settle. Nothing changes for exactly-once: a batch's
/// deliveries are acknowledged only after its commit and its publishes, and the outbox covers a crash between.
///
/// Graceful shutdown stops taking deliveries, finishes the batches in hand, acks and returns.
struct BatchProcessor: Service {
    let configuration: CalculatorConfiguration
    let amqp: AMQPConnection
    let store: StockStore
    let relay: OutboxRelay
    let metrics: CalculatorMetrics
    let logger: Logger

    func run() async throws {
        guard await BrokerService.waitForFirstConnection(amqp, logger: logger) else { return }
        await relay.drain(minimumAge: .zero)
        _ = try? await relay.store.purge(retention: .seconds(Int64(configuration.dedupeRetentionDays) * 86_400))

        let consumer = amqp.consume(queue: configuration.names.queue, prefetch: configuration.prefetch)
        let buffer = DeliveryBuffer()
        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await buffer.fill(from: consumer) }
                group.addTask { await relayLoop() }
                group.addTask { await markLoop() }
                var settling: [Task<Void, Never>] = []
                while let batch = await buffer.take(max: configuration.batchSize, linger: configuration.linger) {
                    while settling.count >= configuration.pipelineDepth { await settling.removeFirst().value }
                    guard let committed = await commit(batch) else { continue }
                    let previous = settling.last
                    settling.append(
                        Task {
                            await previous?.value
                            await settle(committed)
                        })
                }
                for task in settling { await task.value }
                await relay.flushMarks()
                group.cancelAll()
                if let failure = buffer.failure { throw failure }
            }
        } onGracefulShutdown: {
            consumer.cancel()
        }
    }

    /// Marks published outbox rows that no batch transaction took along (``OutboxMarks``), until cancelled.
    private func markLoop() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: OutboxMarks.patience)
            if relay.marks.overdue { await relay.flushMarks() }
        }
    }

    /// Re-publishes what others left behind and purges old dedupe ids, until cancelled.
    private func relayLoop() async {
        var lastPurge = ContinuousClock.now
        while !Task.isCancelled {
            try? await Task.sleep(for: configuration.relayInterval)
            if Task.isCancelled { return }
            await relay.drain(minimumAge: configuration.relayInterval)
            if ContinuousClock.now - lastPurge > .seconds(3600) {
                lastPurge = ContinuousClock.now
                _ = try? await relay.store.purge(retention: .seconds(Int64(configuration.dedupeRetentionDays) * 86_400))
            }
        }
    }

    // MARK: One batch

    /// A batch whose transaction committed, waiting to be published and acknowledged.
    struct Committed: Sendable {
        var batch: [AMQPDelivery]
        var result: BatchResult
        var poison: [Int: String]
        var duplicatesInBatch: Int
        var oldestReceivedAtMillis: Int64?
        var started: ContinuousClock.Instant
    }

    /// Decodes a batch and commits its transaction. Nil when the batch was handed back to the broker
    /// (shutting down with the database unreachable).
    func commit(_ batch: [AMQPDelivery]) async -> Committed? {
        let started = ContinuousClock.now
        metrics.batchSize.record(batch.count)
        var events: [PreparedEvent] = []
        var poison: [Int: String] = [:]
        var duplicateInBatch: [Int] = []
        var seen = Set<String>()
        var oldest: Int64?
        for (index, delivery) in batch.enumerated() {
            switch EventDecoder.decode(body: delivery.body, properties: delivery.properties) {
            case .poison(let reason):
                poison[index] = reason
            case .event(let event, let cause, _, _):
                oldest = min(oldest ?? cause.receivedAtMillis, cause.receivedAtMillis)
                if seen.insert(cause.messageId).inserted {
                    events.append(PreparedEvent(index: index, event: event, cause: cause))
                } else {
                    duplicateInBatch.append(index)
                }
            }
        }

        guard let result = await applyRecovering(events) else {
            // Shutting down with the database unreachable: hand the batch back to the broker.
            for d in batch { d.nack(requeue: true) }
            return nil
        }
        if configuration.crashAfterCommit {
            logger.critical("STOCKWIRE_CALCULATOR_CRASH_AFTER_COMMIT: killing the process after commit, before publish")
            kill(getpid(), SIGKILL)
        }
        return Committed(
            batch: batch, result: result, poison: poison, duplicatesInBatch: duplicateInBatch.count,
            oldestReceivedAtMillis: oldest, started: started)
    }

    /// Publishes a committed batch's outbox rows, dead-letters its poison, then settles every delivery in it
    /// (ack, or dead-letter then ack, or requeue).
    func settle(_ committed: Committed) async {
        let (batch, result, started, oldest) = (
            committed.batch, committed.result, committed.started, committed.oldestReceivedAtMillis
        )
        var poison = committed.poison
        if result.attempts > 1 { metrics.retries.increment(by: result.attempts - 1) }
        await relay.publishAndMark(result.outbox)

        for (index, outcome) in result.outcomes {
            switch outcome {
            case .applied: metrics.applied.increment()
            case .stale: metrics.stale.increment()
            case .ignored(let reason):
                metrics.ignored.increment()
                logger.debug(
                    "event ignored", metadata: ["event_id": "\(batch[index].properties.messageId ?? "")", "reason": "\(reason)"])
            case .rejected(let reason): poison[index] = reason
            }
        }
        metrics.duplicates.increment(by: result.duplicates.count + committed.duplicatesInBatch)
        metrics.linesWithoutSku.increment(by: result.linesWithoutSku)
        metrics.customLines.increment(by: result.customLines)

        // Dead letters are published (with their reason) before the batch is acked.
        var requeue = Set<Int>()
        for (index, reason) in poison.sorted(by: { $0.key < $1.key }) {
            if await deadLetter(batch[index], reason: reason) {
                metrics.deadLettered.increment()
            } else {
                requeue.insert(index)
            }
        }
        if requeue.isEmpty {
            batch.last?.ack(multiple: true)
        } else {
            for (index, d) in batch.enumerated() {
                if requeue.contains(index) { d.nack(requeue: true) } else { d.ack() }
            }
        }
        if let oldest { metrics.lag.record(Double(nowMillis() - oldest) / 1000) }
        let elapsed = (ContinuousClock.now - started).components
        metrics.batchDuration.recordNanoseconds(elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)
    }

    /// Runs the batch transaction until it commits: a lost database is waited for; a statement the database refuses
    /// is narrowed down to the event that causes it, which is rejected so that it cannot block its batch.
    /// Returns nil only when shutting down while the database is unreachable.
    func applyRecovering(_ events: [PreparedEvent]) async -> BatchResult? {
        var delay: Duration = .milliseconds(100)
        while true {
            let marks = relay.marks.take()
            do {
                return try await store.apply(events, computedAtMillis: nowMillis(), marking: marks)
            } catch let error as PostgresError where error.code == .queryFailed || error.code == .transactionAborted {
                relay.marks.add(marks)
                if events.count == 1 {
                    var result = BatchResult()
                    result.outcomes[events[0].index] = .rejected("the database refused this event: \(error)")
                    logger.error(
                        "event refused by the database",
                        metadata: ["event_id": "\(events[0].cause.messageId)", "error": "\(error)"])
                    return result
                }
                logger.warning("batch refused by the database; applying its events one by one", metadata: ["error": "\(error)"])
                var merged = BatchResult()
                for event in events {
                    guard let single = await applyRecovering([event]) else { return nil }
                    merged.outcomes.merge(single.outcomes) { a, _ in a }
                    merged.duplicates += single.duplicates
                    merged.outbox += single.outbox
                    merged.linesWithoutSku += single.linesWithoutSku
                    merged.customLines += single.customLines
                }
                return merged
            } catch {
                relay.marks.add(marks)
                if Task.isCancelled || Task.isShuttingDownGracefully { return nil }
                logger.error("batch transaction failed; retrying", metadata: ["error": "\(error)", "delay": "\(delay)"])
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
                if error.isConnectionLost { try? await store.db.reset() }
            }
        }
    }

    /// Publishes a copy of `delivery` to the dead-letter exchange with the reason; true when the broker confirmed.
    func deadLetter(_ delivery: AMQPDelivery, reason: String) async -> Bool {
        var properties = delivery.properties
        properties.headers["x-stockwire-reason"] = .string(String(reason.prefix(1000)))
        properties.headers["x-stockwire-dead-lettered-by"] = "calculator"
        properties.headers["x-stockwire-original-routing-key"] = .string(delivery.routingKey)
        let message = AMQPMessage(
            exchange: configuration.names.deadExchange, routingKey: configuration.names.queue, body: delivery.body,
            properties: properties, mandatory: true)
        do {
            try await amqp.publish(message, timeout: .seconds(10))
            logger.warning(
                "event dead-lettered",
                metadata: ["event_id": "\(delivery.properties.messageId ?? "")", "reason": "\(reason)"])
            return true
        } catch {
            logger.error("dead-lettering failed; the message is requeued", metadata: ["error": "\(error)"])
            return false
        }
    }
}
