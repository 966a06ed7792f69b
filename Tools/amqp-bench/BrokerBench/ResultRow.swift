/// The figures of one cell of the benchmark.
public struct ResultRow: Sendable, Codable, Equatable {
    /// What a cell measures.
    public enum Operation: String, Sendable, Codable {
        /// Publish persistent messages and await each confirm.
        case publishConfirm = "publish-confirm"
        /// Consume and ack every delivery.
        case consumeAck = "consume-ack"
        /// Consume and ack with `multiple` every N deliveries.
        case consumeAckMultiple = "consume-ack-multiple"
    }

    /// Why a cell ended.
    public enum Stop: String, Sendable, Codable {
        /// It reached its message count.
        case count
        /// It ran out of time first.
        case time
    }

    public var queueType: QueueKind
    public var operation: Operation
    /// Confirm window (publishes in flight) of a publish cell.
    public var window: Int?
    /// Prefetch of a consume cell.
    public var prefetch: Int?
    /// Deliveries per ack-multiple of a consume cell (1 = every message acked on its own).
    public var ackEvery: Int?
    /// Messages confirmed (publish) or received and acked (consume).
    public var messages: Int
    public var seconds: Double
    public var messagesPerSecond: Double
    /// Publish-to-confirm latency percentiles, in milliseconds (publish cells only).
    public var confirmLatencyP50Ms: Double?
    public var confirmLatencyP99Ms: Double?
    public var stoppedBy: Stop
    public var cpu: CPUUsage

    /// The operation as the table shows it.
    public var operationLabel: String {
        switch operation {
        case .publishConfirm: return "publish+confirm"
        case .consumeAck: return "consume, ack each"
        case .consumeAckMultiple: return "consume, ack-multiple/\(ackEvery ?? 0)"
        }
    }
}

/// Percentiles of a set of latencies, by the nearest-rank method.
public struct LatencySummary {
    private let sorted: [Duration]

    public init(_ latencies: [Duration]) { sorted = latencies.sorted() }

    /// The `p`-th percentile (0...100) in milliseconds, nil when there are no samples.
    public func milliseconds(atPercentile p: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1].secondsDouble * 1000
    }
}
