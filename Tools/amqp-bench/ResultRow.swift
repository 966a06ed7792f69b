/// The figures of one cell of the benchmark.
struct ResultRow: Sendable, Codable, Equatable {
    /// What a cell measures.
    enum Operation: String, Sendable, Codable {
        /// Publish persistent messages and await each confirm.
        case publishConfirm = "publish-confirm"
        /// Consume and ack every delivery.
        case consumeAck = "consume-ack"
        /// Consume and ack with `multiple` every N deliveries.
        case consumeAckMultiple = "consume-ack-multiple"
    }

    /// Why a cell ended.
    enum Stop: String, Sendable, Codable {
        /// It reached its message count.
        case count
        /// It ran out of time first.
        case time
    }

    var queueType: QueueKind
    var operation: Operation
    /// Confirm window (publishes in flight) of a publish cell.
    var window: Int?
    /// Prefetch of a consume cell.
    var prefetch: Int?
    /// Deliveries per ack-multiple of a consume cell (1 = every message acked on its own).
    var ackEvery: Int?
    /// Messages confirmed (publish) or received and acked (consume).
    var messages: Int
    var seconds: Double
    var messagesPerSecond: Double
    /// Publish-to-confirm latency percentiles, in milliseconds (publish cells only).
    var confirmLatencyP50Ms: Double?
    var confirmLatencyP99Ms: Double?
    var stoppedBy: Stop
    var cpu: CPUUsage

    /// The operation as the table shows it.
    var operationLabel: String {
        switch operation {
        case .publishConfirm: return "publish+confirm"
        case .consumeAck: return "consume, ack each"
        case .consumeAckMultiple: return "consume, ack-multiple/\(ackEvery ?? 0)"
        }
    }
}

/// Percentiles of a set of latencies, by the nearest-rank method.
struct LatencySummary {
    private let sorted: [Duration]

    init(_ latencies: [Duration]) { sorted = latencies.sorted() }

    /// The `p`-th percentile (0...100) in milliseconds, nil when there are no samples.
    func milliseconds(atPercentile p: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1].secondsDouble * 1000
    }
}
