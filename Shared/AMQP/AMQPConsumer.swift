/// The deliveries of one subscription, as an async sequence that survives reconnects.
///
/// After a reconnect the subscription is re-established by itself; unacknowledged deliveries of the old
/// connection come again, flagged `redelivered`. The sequence ends when the consumer is cancelled or the
/// connection closed, and throws when the broker refuses the subscription (e.g. the queue does not exist).
public struct AMQPConsumer: AsyncSequence, Sendable {
    public typealias Element = AMQPDelivery

    let id: Int
    let stream: AsyncThrowingStream<AMQPDelivery, any Error>
    let mailbox: ConnectionMailbox

    /// The queue this consumer reads.
    public let queue: String

    /// The consumer's current subscription (``AMQPDelivery/subscription``), nil while it is not subscribed (the
    /// connection is down or being re-established). A new one starts after every reconnect and after the broker
    /// cancelled or closed the consumer; deliveries of an earlier one are no longer this consumer's.
    public var subscription: UInt64? { mailbox.state.withLock { $0.subscriptions[id] } }

    public func makeAsyncIterator() -> AsyncThrowingStream<AMQPDelivery, any Error>.AsyncIterator {
        stream.makeAsyncIterator()
    }

    /// Stops taking deliveries (basic.cancel); the sequence ends. Deliveries not yet acknowledged stay with this
    /// consumer, so acks still on their way take effect; what is never acked returns when the connection closes.
    public func cancel() {
        _ = mailbox.submit(.cancel(consumer: id, release: false))
    }

    /// Stops taking deliveries and hands every unacknowledged one back to the queue at once (closes the
    /// consumer's channel). Acks sent just before may be lost and those messages delivered again.
    public func release() {
        _ = mailbox.submit(.cancel(consumer: id, release: true))
    }
}
