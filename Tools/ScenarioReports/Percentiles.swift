import Foundation

/// p50/p95/p99/max of a list of milliseconds.
public struct Percentiles: Codable, Sendable {
    public var count: Int
    public var p50: Double?
    public var p95: Double?
    public var p99: Double?
    public var max: Double?

    /// The figures of `values` (nearest rank), all nil but the count when there are none.
    public init(_ values: [Double]) {
        let sorted = values.sorted()
        count = sorted.count
        func at(_ q: Double) -> Double? {
            sorted.isEmpty ? nil : sorted[Swift.min(sorted.count - 1, Int((Double(sorted.count - 1) * q).rounded()))]
        }
        p50 = at(0.5)
        p95 = at(0.95)
        p99 = at(0.99)
        max = sorted.last
    }
}
