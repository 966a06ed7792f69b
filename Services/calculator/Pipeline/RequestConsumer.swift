import AMQP
import Contracts
import Logging
import ServiceKit
import ServiceLifecycle

/// Answers operator requests on the calculator's request queue: a ``ResyncRequest`` (`exporter resync <shop>`)
/// publishes every SKU's current availability to that shop's queue only.
///
/// One request at a time (prefetch 1), acknowledged once answered. A request that cannot be read, or names a shop
/// without a queue, is logged and dropped (an operator asks again); a broker failure half-way requeues it.
struct RequestConsumer: Service {
    let queue: String
    let amqp: AMQPConnection
    let republisher: AvailabilityRepublisher
    let logger: Logger

    func run() async throws {
        guard await BrokerService.waitForFirstConnection(amqp, logger: logger) else { return }
        let consumer = amqp.consume(queue: queue, prefetch: 1)
        try await withGracefulShutdownHandler {
            for try await delivery in consumer { await answer(delivery) }
        } onGracefulShutdown: {
            consumer.cancel()
        }
    }

    /// Answers one request and settles its delivery.
    func answer(_ delivery: AMQPDelivery) async {
        let request: ResyncRequest
        do {
            request = try ResyncRequest.decode(delivery.body)
        } catch {
            logger.error("unreadable operator request dropped", metadata: ["error": "\(error)"])
            delivery.reject(requeue: false)
            return
        }
        let target = StockwireTopology.exporterQueue(shop: request.shop.description)
        logger.info("resync requested", metadata: ["shop": "\(request.shop)"])
        do {
            let count = try await republisher.publishAll(to: .queue(target))
            logger.info("resync published", metadata: ["shop": "\(request.shop)", "skus": "\(count)"])
            delivery.ack()
        } catch let error as RepublishError where error.unroutable {
            logger.error(
                "resync of a shop without a queue dropped: is the shop in an exporter's shops file?",
                metadata: ["shop": "\(request.shop)", "queue": "\(target)"])
            delivery.ack()
        } catch {
            logger.error("resync failed; requeued", metadata: ["shop": "\(request.shop)", "error": "\(error)"])
            try? await Task.sleep(for: .seconds(1))
            delivery.nack(requeue: true)
        }
    }
}
