/// The state of a connection as its users see it.
public enum AMQPConnectionStatus: Sendable, Equatable {
    /// Connecting or reconnecting.
    case connecting
    /// Connected, topology declared, publishing allowed.
    case ready
    /// Connected, but the broker blocked publishing (memory or disk alarm); the reason as the broker gave it.
    case blocked(reason: String)
    /// Lost; a reconnect is scheduled. The reason names what failed.
    case disconnected(reason: String)
    /// Closed for good by its owner.
    case closed
}

/// What a passive queue declare tells.
public struct AMQPQueueInfo: Sendable, Equatable {
    /// Messages ready for delivery (not counting unacknowledged ones).
    public let messages: UInt32
    /// Active consumers.
    public let consumers: UInt32
}
