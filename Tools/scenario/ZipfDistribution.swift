import Foundation
import ShopifySimulator

/// Picks one of `count` items with Zipf popularity: item k (from 0) is chosen with weight 1 / (k + 1)^exponent,
/// so a few best-sellers take most of the sales, as in real shops.
struct ZipfDistribution {
    /// Probability of each item, summing to 1.
    let probabilities: [Double]
    private let cumulative: [Double]

    init(count: Int, exponent: Double) {
        let weights = (0..<count).map { 1 / pow(Double($0 + 1), exponent) }
        let total = weights.reduce(0, +)
        probabilities = weights.map { $0 / total }
        var running = 0.0
        cumulative = probabilities.map {
            running += $0
            return running
        }
    }

    /// An index in 0..<count.
    func sample(_ rng: inout SplitMix64) -> Int {
        let u = Double(rng.next() >> 11) / Double(1 << 53)
        var lo = 0
        var hi = cumulative.count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if cumulative[mid] < u { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}
