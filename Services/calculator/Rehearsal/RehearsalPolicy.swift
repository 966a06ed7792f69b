import Contracts
import Foundation
import StockCore

/// A way of keeping the shops' counts, as the rehearsal plays it.
struct RehearsalPolicy: Sendable, Equatable {
    enum Kind: String, Sendable, Codable {
        /// Every shop shows the available quantity, written after the shop's sync delay (Stockwire, guard off).
        case mirror
        /// Mirror above the threshold, shares at or below it (Stockwire's zero-oversell guard).
        case guarded = "guard"
        /// Every shop is set to the available quantity every N minutes (a periodic sync, what merchants have
        /// without an event-driven one); between two syncs a shop only sees its own sales.
        case interval
    }

    var kind: Kind
    /// The guard threshold of every SKU (guard); 0 otherwise.
    var threshold: Int64 = 0
    /// Per-SKU guard thresholds (guard; SKUs not named use ``threshold``).
    var thresholds: [String: Int64] = [:]
    /// Whether ``thresholds`` are to be the rehearsal's recommendations (`guard=recommended`).
    var usesRecommendations = false
    /// Time between two syncs (interval).
    var intervalMillis: Int64 = 0

    var name: String {
        switch kind {
        case .mirror: return "mirror"
        case .guarded: return usesRecommendations ? "guard-recommended" : "guard-\(threshold)"
        case .interval:
            return intervalMillis % 60_000 == 0 ? "interval-\(intervalMillis / 60_000)m" : "interval-\(intervalMillis / 1000)s"
        }
    }

    func description(delays: String) -> String {
        switch kind {
        case .mirror: return "mirror mode (every shop shows the available quantity), sync delay \(delays)"
        case .guarded:
            let what =
                usesRecommendations
                ? "the recommended threshold per SKU (\(thresholds.count) SKU(s) guarded)"
                : thresholds.isEmpty
                    ? "threshold \(threshold) for every SKU"
                    : "threshold \(threshold), \(thresholds.count) SKU(s) with their own"
            return "zero-oversell guard, \(what), sync delay \(delays)"
        case .interval:
            return "periodic sync every \(Self.duration(intervalMillis)): each shop set to the available quantity"
        }
    }

    static func duration(_ ms: Int64) -> String {
        ms % 60_000 == 0 ? "\(ms / 60_000) min" : ms % 1000 == 0 ? "\(ms / 1000) s" : "\(ms) ms"
    }

    /// Reads `mirror`, `guard=N`, `guard=recommended`, `interval=N` (minutes) or `interval=Ns`.
    init(parsing text: String) throws {
        let parts = text.split(separator: "=", maxSplits: 1).map { String($0).trimmingCharacters(in: .whitespaces) }
        let value = parts.count == 2 ? parts[1] : nil
        switch parts.first?.lowercased() {
        case "mirror" where value == nil:
            kind = .mirror
        case "guard":
            kind = .guarded
            if value == "recommended" {
                usesRecommendations = true
            } else if let v = value.flatMap({ Int64($0) }), v >= 1 {
                threshold = v
            } else {
                throw RehearsalError("--policy \(text): write guard=N (a threshold ≥ 1) or guard=recommended")
            }
        case "interval":
            kind = .interval
            if let v = value, v.hasSuffix("s"), let s = Int64(v.dropLast()), s >= 1 {
                intervalMillis = s * 1000
            } else if let v = value.flatMap({ Int64($0.hasSuffix("m") ? String($0.dropLast()) : $0) }), v >= 1 {
                intervalMillis = v * 60_000
            } else {
                throw RehearsalError("--policy \(text): write interval=N (minutes, ≥ 1) or interval=Ns (seconds)")
            }
        default:
            throw RehearsalError("--policy \(text): expected mirror, guard=N, guard=recommended or interval=N")
        }
    }

    init(kind: Kind, threshold: Int64 = 0, thresholds: [String: Int64] = [:], intervalMillis: Int64 = 0) {
        self.kind = kind
        self.threshold = threshold
        self.thresholds = thresholds
        self.intervalMillis = intervalMillis
    }

    /// What the rehearsal plays when no `--policy` is given.
    static let defaults: [RehearsalPolicy] = [
        RehearsalPolicy(kind: .mirror),
        (try? RehearsalPolicy(parsing: "guard=recommended"))!,
        RehearsalPolicy(kind: .interval, intervalMillis: 15 * 60_000),
    ]
}

/// What every policy of one rehearsal shares: the shops, their sync delays, the guard's timings, the window.
struct RehearsalSettings: Sendable {
    /// Every shop of the day, sorted.
    var shops: [ShopDomain]
    /// Per shop: from a change of the truth to the new count in the shop (ms).
    var delays: [ShopDomain: Int64]
    /// From a write in a shop to the calculator learning of it (the exporter's report), ms.
    var reportDelayMillis: Int64 = 5
    /// The guard's timings (its threshold comes from the policy).
    var guardTimings = StockGuard.Settings()
    /// Events before this time (ms) build the starting state and are not rehearsed; nil: from the first event.
    var from: Int64?
    /// Events after this time are not read; nil: to the last event.
    var until: Int64?
    /// Points per policy in the report's timeline.
    var timelinePoints = 200
    /// SKUs per policy in `worst_skus`.
    var top = 10

    func delay(_ shop: ShopDomain) -> Int64 { delays[shop] ?? 0 }

    /// `120 ms` when every shop has the same, else `a: 80 ms, b: 120 ms`.
    var delaysText: String {
        let values = Set(shops.map(delay))
        if values.count <= 1 { return "\(values.first ?? 0) ms per shop" }
        return shops.map { "\($0): \(delay($0)) ms" }.joined(separator: ", ")
    }
}
