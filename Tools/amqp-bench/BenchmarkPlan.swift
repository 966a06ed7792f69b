import AMQP

/// A durable queue type the benchmark measures.
enum QueueKind: String, Sendable, Codable, CaseIterable {
    case quorum, classic

    /// The durable queue of this type, declared the way Stockwire declares its queues.
    func topology(_ name: String) -> AMQPTopology {
        switch self {
        case .quorum: return .quorumQueue(name)
        case .classic: return .queue(name: name, arguments: ["x-queue-type": "classic"])
        }
    }
}

/// What one run measures; every count and limit comes from the command line.
struct BenchmarkPlan: Sendable, Encodable {
    /// Queue types, in the order they are measured.
    var queueTypes: [QueueKind]
    /// Confirm windows, in the order they are measured.
    var windows: [Int]
    /// Messages per publish cell.
    var messages: Int
    /// Messages per publish cell at window 1.
    var messagesWindow1: Int
    /// Upper bound on one cell's duration.
    var cellLimit: Duration
    /// Body size in bytes.
    var bodySize: Int
    /// Unreported messages published before the first cell of each queue type.
    var warmup: Int
    /// Consumer prefetch of the consume cells.
    var prefetch: UInt16
    /// Messages per consume cell.
    var consumeMessages: Int
    /// One ack-multiple every this many deliveries in the extra consume row; 0 skips the row.
    var ackMultipleEvery: Int

    /// The message count of the publish cell at `window`.
    func publishCount(window: Int) -> Int { window == 1 ? messagesWindow1 : messages }

    private enum CodingKeys: String, CodingKey {
        case queueTypes, windows, messages, messagesWindow1, secondsPerCell, bodySize, warmup, prefetch
        case consumeMessages, ackMultipleEvery
    }

    func encode(to encoder: any Encoder) throws {
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
    var secondsDouble: Double {
        let (s, a) = components
        return Double(s) + Double(a) / 1e18
    }
}
