import AMQP
import Contracts
import ServiceKit

extension DeadLetterQueue {
    /// One shop's dead letters `dead.exporter.<shop>`: availability messages the exporter (or the broker, at the
    /// delivery limit) gave up on. Replay publishes to the default exchange with the shop's queue name as routing
    /// key, so the message reaches `exporter.<shop>` only — never the other shops bound to `stockwire.availability`.
    init(shop: String, connection: AMQPConnection) {
        let shopQueue = StockwireTopology.exporterQueue(shop: shop)
        self.init(
            queue: shopQueue, connection: connection,
            route: .queue(shopQueue, missingHint: "start the exporter with \(shop) in its shops file first"),
            missingHint: "check the shop domain (the exporter declares it when it starts with \(shop) in its shops file)")
    }

    /// The shop's work queue, `exporter.<shop>`, which replay sends to.
    var shopQueue: String { replayQueue }
}

extension DeadLetterQueue.Letter {
    /// The decoded availability message, or nil when the body is not one.
    var availability: AvailabilityMessage? { try? AvailabilityMessage.decode(body) }
}
