import Metrics
import Synchronization

/// The metrics ingest reports, named `stockwire_ingest_<what>_<unit>`:
///
/// - `stockwire_ingest_requests_total{endpoint, status, topic}`: answered requests;
/// - `stockwire_ingest_rejects_total{reason}`: requests refused or failed, by reason (`bad_signature`, `too_large`,
///   `broker_unavailable`, …);
/// - `stockwire_ingest_publish_latency_seconds`: publish until broker confirm (histogram);
/// - `stockwire_ingest_request_duration_seconds{endpoint}`: head received until answer (histogram);
/// - `stockwire_ingest_confirms_pending_messages`: publishes awaiting their confirm now (gauge).
final class IngestMetrics: Sendable {
    private let pending = Atomic<Int>(0)
    private let pendingGauge = Gauge(label: "stockwire_ingest_confirms_pending_messages")
    private let publishTimer = Metrics.Timer(label: "stockwire_ingest_publish_latency_seconds")
    /// The per-request metrics already made, so that a request costs one dictionary lookup instead of a trip
    /// through the metrics factory (its lock, label sorting and registry lookup) for each of them.
    private let requestMetrics = Mutex<[RequestKey: RequestMetrics]>([:])
    private let rejectCounters = Mutex<[String: Counter]>([:])

    private struct RequestKey: Hashable {
        let endpoint: String
        let status: Int
        let topic: String
    }

    private struct RequestMetrics {
        let count: Counter
        let duration: Metrics.Timer
    }

    init() {}

    /// Counts an answered request; `topic` is `unverified` until the sender is authenticated.
    func request(endpoint: String, status: Int, topic: String, duration: Duration) {
        let key = RequestKey(endpoint: endpoint, status: status, topic: topic)
        let metrics = requestMetrics.withLock { cache in
            if let metrics = cache[key] { return metrics }
            let metrics = RequestMetrics(
                count: Counter(
                    label: "stockwire_ingest_requests_total",
                    dimensions: [("endpoint", endpoint), ("status", String(status)), ("topic", topic)]),
                duration: Metrics.Timer(
                    label: "stockwire_ingest_request_duration_seconds", dimensions: [("endpoint", endpoint)]))
            cache[key] = metrics
            return metrics
        }
        metrics.count.increment()
        metrics.duration.recordNanoseconds(duration.nanoseconds)
    }

    /// Counts a refused or failed request.
    func reject(reason: String) {
        let counter = rejectCounters.withLock { cache in
            if let counter = cache[reason] { return counter }
            let counter = Counter(label: "stockwire_ingest_rejects_total", dimensions: [("reason", reason)])
            cache[reason] = counter
            return counter
        }
        counter.increment()
    }

    /// Records the time from publish to confirm.
    func publishLatency(_ duration: Duration) {
        publishTimer.recordNanoseconds(duration.nanoseconds)
    }

    func confirmStarted() {
        pendingGauge.record(pending.add(1, ordering: .relaxed).newValue)
    }

    func confirmFinished() {
        pendingGauge.record(pending.subtract(1, ordering: .relaxed).newValue)
    }
}

extension Duration {
    /// The duration in whole nanoseconds (saturating).
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds.multipliedReportingOverflow(by: 1_000_000_000).overflow
            ? .max : seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    /// The duration in whole milliseconds.
    var milliseconds: Int64 { nanoseconds / 1_000_000 }
}
