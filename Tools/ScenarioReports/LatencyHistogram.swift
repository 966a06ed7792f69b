import Foundation

/// A latency histogram with Prometheus's cumulative buckets, summed over every label set of one metric
/// (e.g. the exporter's `stockwire_exporter_end_to_end_seconds`, one series per shop).
///
/// Quantiles are estimated as Prometheus's `histogram_quantile` does (linear within the bucket); each also names
/// the bucket's upper bound, which is the exact guarantee ("99 % were ≤ 25 ms").
public struct LatencyHistogram: Codable, Equatable, Sendable {
    /// Upper bounds in milliseconds, ascending; the last bucket (+Inf) is implicit.
    public var boundsMs: [Double]
    /// Observations per bucket (not cumulative); one more entry than `boundsMs`, the last for > the largest bound.
    public var counts: [Int]
    /// Sum of all observations in milliseconds.
    public var sumMs: Double

    public var count: Int { counts.reduce(0, +) }

    /// Parses `metric` out of a Prometheus text page, only the series carrying `label` (`name="value"`) when given;
    /// nil when the page has no such histogram.
    public static func parse(_ page: String, metric: String, label: String? = nil) -> LatencyHistogram? {
        var cumulative: [Double: Int] = [:]
        var infinity = 0
        var sum = 0.0
        var found = false
        for line in page.split(separator: "\n") where line.hasPrefix(metric) {
            if let label, !line.contains(label) { continue }
            let rest = line.dropFirst(metric.count)
            guard let value = line.split(separator: " ").last.flatMap({ Double($0) }) else { continue }
            if rest.hasPrefix("_bucket") {
                guard let range = rest.range(of: "le=\""), let end = rest[range.upperBound...].firstIndex(of: "\"") else {
                    continue
                }
                let le = rest[range.upperBound..<end]
                found = true
                if le == "+Inf" {
                    infinity += Int(value)
                } else if let seconds = Double(le) {
                    cumulative[seconds * 1000, default: 0] += Int(value)
                }
            } else if rest.hasPrefix("_sum") {
                sum += value * 1000
            }
        }
        guard found else { return nil }
        let bounds = cumulative.keys.sorted()
        var counts: [Int] = []
        var previous = 0
        for b in bounds {
            counts.append(max(0, cumulative[b]! - previous))
            previous = cumulative[b]!
        }
        counts.append(max(0, infinity - previous))
        return LatencyHistogram(boundsMs: bounds, counts: counts, sumMs: sum)
    }

    /// Buckets `samples` (milliseconds) with the given bounds.
    public init(samplesMs samples: [Double], boundsMs: [Double]) {
        self.boundsMs = boundsMs
        var counts = [Int](repeating: 0, count: boundsMs.count + 1)
        for s in samples { counts[boundsMs.firstIndex { s <= $0 } ?? boundsMs.count] += 1 }
        self.counts = counts
        self.sumMs = samples.reduce(0, +)
    }

    public init(boundsMs: [Double], counts: [Int], sumMs: Double) {
        self.boundsMs = boundsMs
        self.counts = counts
        self.sumMs = sumMs
    }

    /// What was observed between `earlier` and this one (both from the same process, same bounds).
    public func subtracting(_ earlier: LatencyHistogram?) -> LatencyHistogram {
        guard let earlier, earlier.boundsMs == boundsMs else { return self }
        return LatencyHistogram(
            boundsMs: boundsMs, counts: zip(counts, earlier.counts).map { max(0, $0 - $1) }, sumMs: sumMs - earlier.sumMs)
    }

    /// The `q` quantile (0…1): an estimate (linear within its bucket) and the bucket's upper bound (nil = +Inf).
    public func quantile(_ q: Double) -> (estimateMs: Double, atMostMs: Double?)? {
        let total = count
        guard total > 0 else { return nil }
        let rank = q * Double(total)
        var seen = 0
        for (i, c) in counts.enumerated() {
            if c > 0, Double(seen + c) >= rank {
                let lower = i == 0 ? 0 : boundsMs[i - 1]
                guard i < boundsMs.count else { return (lower, nil) }
                let upper = boundsMs[i]
                return (lower + (upper - lower) * max(0, rank - Double(seen)) / Double(c), upper)
            }
            seen += c
        }
        return nil
    }

    /// The bucket holding the largest observation, as "(a, b] ms".
    public var maxBucket: String {
        guard let i = counts.lastIndex(where: { $0 > 0 }) else { return "–" }
        let lower = i == 0 ? 0 : boundsMs[i - 1]
        return i < boundsMs.count ? "\(Self.format(lower))–\(Self.format(boundsMs[i])) ms" : "> \(Self.format(lower)) ms"
    }

    /// "p50 ≈ 7 ms (≤ 10)" and so on, for the text reports.
    public var summary: String {
        guard count > 0 else { return "no samples" }
        let parts = [("p50", 0.5), ("p95", 0.95), ("p99", 0.99)].map { name, q -> String in
            guard let v = quantile(q) else { return "\(name) –" }
            return "\(name) ≈ \(Self.format(v.estimateMs)) ms (≤ \(v.atMostMs.map(Self.format) ?? "∞"))"
        }
        return parts.joined(separator: ", ") + ", max in \(maxBucket), mean \(Self.format(sumMs / Double(count))) ms, "
            + "\(count) samples"
    }

    public static func format(_ ms: Double) -> String {
        ms >= 100 || ms == ms.rounded() ? String(format: "%.0f", ms) : String(format: "%.1f", ms)
    }

    /// The exporter's (swift-prometheus default) duration buckets, in milliseconds.
    public static let defaultBoundsMs: [Double] = [5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000]
}
