import Foundation

/// One queue's counts: messages held now, and the management plugin's cumulative counters (refreshed every
/// few seconds by the broker, so read them once the system is quiet).
public struct QueueFigures: Codable, Sendable {
    public var name: String
    /// Ready plus unacknowledged, now.
    public var messages: Int
    public var unacknowledged: Int
    public var consumers: Int
    /// Messages routed into the queue, delivered, acknowledged and redelivered, since it was declared.
    public var published: Int
    public var delivered: Int
    public var acknowledged: Int
    public var redelivered: Int

    /// Creates the figures.
    public init(
        name: String, messages: Int, unacknowledged: Int, consumers: Int, published: Int, delivered: Int, acknowledged: Int,
        redelivered: Int
    ) {
        self.name = name
        self.messages = messages
        self.unacknowledged = unacknowledged
        self.consumers = consumers
        self.published = published
        self.delivered = delivered
        self.acknowledged = acknowledged
        self.redelivered = redelivered
    }
}
