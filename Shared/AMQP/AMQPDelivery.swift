/// A message delivered to a consumer. Acknowledge it once its effect is durable.
public struct AMQPDelivery: Sendable {
    /// The body, unchanged.
    public let body: [UInt8]
    /// The message properties.
    public let properties: AMQPProperties
    /// The exchange it was published to.
    public let exchange: String
    /// The routing key it was published with.
    public let routingKey: String
    /// True when the broker delivered it before (to this or another consumer) without an ack.
    public let redelivered: Bool
    /// The delivery tag, unique per channel and connection.
    public let deliveryTag: UInt64

    let channel: UInt16
    let generation: UInt64
    let consumer: Int
    /// The subscription that delivered it (see ``isLive``).
    public let subscription: UInt64
    let mailbox: ConnectionMailbox

    /// Whether the subscription that delivered it still stands, so that the broker still counts it as this consumer's.
    /// False once its connection or channel is gone: the broker has put it back in the queue, and it may already be
    /// with another consumer (with a single active consumer, another instance now owns the queue). Whoever holds it
    /// must stop acting on it; its ack would be refused anyway.
    public var isLive: Bool {
        mailbox.state.withLock { $0.generation == generation && $0.subscriptions[consumer] == subscription }
    }

    /// Acknowledges this delivery (and, with `multiple`, every earlier one of its consumer).
    ///
    /// Returns false when the connection it came on is gone: the broker will deliver it again.
    @discardableResult
    public func ack(multiple: Bool = false) -> Bool {
        mailbox.submit(.ack(channel: channel, generation: generation, tag: deliveryTag, multiple: multiple))
    }

    /// Negatively acknowledges: with `requeue` it is delivered again (counting toward the delivery limit), without
    /// it is dead-lettered when the queue has a dead-letter exchange.
    @discardableResult
    public func nack(requeue: Bool, multiple: Bool = false) -> Bool {
        mailbox.submit(
            .nack(channel: channel, generation: generation, tag: deliveryTag, multiple: multiple, requeue: requeue))
    }

    /// Rejects this one delivery (see ``nack(requeue:multiple:)``).
    @discardableResult
    public func reject(requeue: Bool) -> Bool {
        nack(requeue: requeue, multiple: false)
    }

    /// How many times a quorum queue has delivered this message before (`x-delivery-count`), 0 when first.
    public var deliveryCount: Int { Int(properties.headers["x-delivery-count"]?.intValue ?? 0) }
}
