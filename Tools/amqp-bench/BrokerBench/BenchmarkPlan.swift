import AMQP

/// A durable queue type the benchmark measures.
public enum QueueKind: String, Sendable, Codable, CaseIterable {
    case quorum, classic

    /// The durable queue of this type, declared the way Stockwire declares its queues.
    public func topology(_ name: String) -> AMQPTopology {
        switch self {
        case .quorum: return .quorumQueue(name)
        case .classic: return .queue(name: name, arguments: ["x-queue-type": "classic"])
        }
    }
}

/// What one run measures; every count and limit comes from the command line.
public struct BenchmarkPlan: Sendable, Encodable {
    /// Queue types, in the order they are measured.
    public var queueTypes: [QueueKind]
    /// Confirm windows, in the order they are measured.
    public var windows: [Int]
    /// Messages per publish cell.
    public var messages: Int
    /// Messages per publish cell at window 1.
    public var messagesWindow1: Int
    /// Upper bound on one cell's duration.
    public var cellLimit: Duration
    /// Body size in bytes.
    public var bodySize: Int
    /// Unreported messages published before the first cell of each queue type.
    public var warmup: Int
    /// Consumer prefetch of the consume cells.
    public var prefetch: UInt16
    /// Messages per consume cell.
    public var consumeMessages: Int
    /// One ack-multiple every this many deliveries in the extra consume row; 0 skips the row.
    public var ackMultipleEvery: Int

    /// A plan; every field as documented above.
    public init(
        queueTypes: [QueueKind], windows: [Int], messages: Int, messagesWindow1: Int, cellLimit: Duration, bodySize: Int,
        warmup: Int, prefetch: UInt16, consumeMessages: Int, ackMultipleEvery: Int
    ) {
        self.queueTypes = queueTypes
        self.windows = windows
        self.messages = messages
        self.messagesWindow1 = messagesWindow1
        self.cellLimit = cellLimit
        self.bodySize = bodySize
        self.warmup = warmup
        self.prefetch = prefetch
        self.consumeMessages = consumeMessages
        self.ackMultipleEvery = ackMultipleEvery
    }

    /// The message count of the publish cell at `window`.
    public func publishCount(window: Int) -> Int { window == 1 ? messagesWindow1 : messages }

    private enum CodingKeys: String, CodingKey {
        case queueTypes, windows, messages, messagesWindow1, secondsPerCell, bodySize, warmup, prefetch
        case consumeMessages, ackMultipleEvery
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(queueTypes, forKey: .queueTypes)
        try c.encode(windows, forKey: .windows)
        try c.encode(messages, forKey: .messages)
        try c.encode(messagesWindow1, forKey: .messagesWindow1)
        try c.encode(cellLimit.secondsDouble, forKey: .secondsPerCell)
        try c.encode(bodySize, forKey: .bodySize)
        try c.encode(warmup, forKey: .warmup)
        try c.encode(prefetch, forKey: .prefetch)
        try c.encode(consumeMessages, forKey: .consumeMessages)
        try c.encode(ackMultipleEvery, forKey: .ackMultipleEvery)
    }
}

extension Duration {
    /// The duration in seconds as a floating-point number.
    public var secondsDouble: Double {
        let (s, a) = components
        return Double(s) + Double(a) / 1e18
    }
}
