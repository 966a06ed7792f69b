import Contracts
import Foundation
import StockCore

/// A rehearsal of one day under several policies, side by side, and the guard thresholds it recommends.
///
/// Offline and read-only: it plays ``RehearsalWorld``s in memory, one per policy (in parallel), and writes nothing to
/// the truth, the broker or a shop.
struct Rehearsal: Sendable {
    var input: RehearsalInput
    var policies: [RehearsalPolicy]
    var settings: RehearsalSettings
    /// Where the events came from, for the report (`file`, `stream`).
    var source: String
    /// Thresholds tried for a SKU that oversold in mirror mode, smallest first.
    var candidateThresholds: [Int64] = [1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 75, 100]

    /// Every shop the events name, plus the ones already in the settings.
    static func shops(of events: [RehearsalEvent], plus more: [ShopDomain]) -> [ShopDomain] {
        var shops = Set(more)
        for e in events {
            switch e.event {
            case .order(let s): shops.insert(s.shop)
            case .refund(let r): shops.insert(r.shop)
            default: break
            }
        }
        return shops.sorted()
    }

    func run() async -> RehearsalReport {
        let clock = ContinuousClock.now
        var input = input
        let known = Self.knownSkus(input)
        Self.removeUnknownLines(&input, known: known)
        // By default the window opens with the first buyer: stock received before it is on the shelves.
        let firstOrder = input.events.first { if case .order = $0.event { true } else { false } }
        let from = settings.from ?? firstOrder?.atMillis ?? input.events.first?.atMillis ?? 0
        let to = settings.until ?? input.events.last?.atMillis ?? from
        let events = input.events
        let stock = input.startingStock
        let settings = settings
        let delays = settings.delaysText

        @Sendable func play(_ policy: RehearsalPolicy, _ events: [RehearsalEvent]) -> Played {
            var world = RehearsalWorld(policy: policy, settings: settings, description: policy.description(delays: delays))
            let outcome = world.run(events: events, startingStock: stock, knownSkus: known, from: from, to: to)
            return Played(outcome: outcome, skus: world.perSkuOutcomes, refused: world.refusedByModel)
        }

        // The policies that need nothing else, in parallel; a mirror run always (the recommendations start from it).
        var fixed = policies.filter { !$0.usesRecommendations }
        if !fixed.contains(where: { $0.kind == .mirror }) { fixed.append(RehearsalPolicy(kind: .mirror)) }
        var outcomes: [String: PolicyOutcome] = [:]
        var mirror: [String: PolicyOutcome.Sku] = [:]
        await withTaskGroup(of: (RehearsalPolicy, Played).self) { group in
            for policy in fixed {
                group.addTask { (policy, play(policy, events)) }
            }
            for await (policy, played) in group {
                outcomes[policy.name] = played.outcome
                if policy.kind == .mirror {
                    mirror = played.skus
                    // The same in every policy that sells the same orders; said once, from mirror mode.
                    for reason in played.refused { input.skip("event the stock model refused: \(Self.shortReason(reason))") }
                }
            }
        }

        let mirrorOversold = mirror.compactMapValues { $0.units_oversold > 0 ? $0.units_oversold : nil }
        var recommendations: [Recommendation] = []
        if !mirrorOversold.isEmpty {
            let found = await search(for: mirrorOversold, events: events, play: play)
            let (verified, played) = verify(found, mirrorOversold: mirrorOversold, events: events, play: play)
            recommendations = verified
            for var policy in policies where policy.usesRecommendations {
                policy.thresholds = Dictionary(
                    uniqueKeysWithValues: recommendations.compactMap { r in r.threshold.map { (r.sku, $0) } })
                var outcome = played.outcome
                outcome.name = policy.name
                outcome.description = policy.description(delays: delays)
                outcomes[policy.name] = outcome
            }
        } else {
            for policy in policies where policy.usesRecommendations {
                outcomes[policy.name] = play(policy, events).outcome
            }
        }

        let report = RehearsalReport(
            input: RehearsalReport.Input(
                source: source, from_ms: from, to_ms: to, events_read: input.read,
                orders: events.count { if case .order = $0.event { true } else { false } },
                movements: events.count { if case .movements = $0.event { true } else { false } },
                shops: settings.shops, skus: known.count,
                delays_ms: Dictionary(uniqueKeysWithValues: settings.shops.map { ($0.description, settings.delay($0)) }),
                not_used: input.notUsed.map { .init(reason: $0.key, count: $0.value) }.sorted { $0.count > $1.count }),
            policies: policies.compactMap { outcomes[$0.name] }, recommendations: recommendations,
            elapsed_ms: Int64((ContinuousClock.now - clock) / .milliseconds(1)))
        return report
    }

    // MARK: - Recommendations

    /// What one policy did with the day, in all and per SKU.
    struct Played: Sendable {
        var outcome: PolicyOutcome
        var skus: [String: PolicyOutcome.Sku]
        /// Events the stock model refused (the calculator would dead-letter them), with the reason.
        var refused: [String] = []
    }

    /// For every SKU that oversold in mirror mode: the smallest candidate threshold with 0 oversold and the fewest
    /// lost units, played on that SKU's events alone (fast: a SKU's events are few). Nil when none reached 0.
    private func search(
        for oversold: [String: Int64], events: [RehearsalEvent],
        play: @escaping @Sendable (RehearsalPolicy, [RehearsalEvent]) -> Played
    ) async -> [String: Int64?] {
        let subsets = Self.events(of: Set(oversold.keys), in: events)
        let candidates = candidateThresholds
        var found: [String: Int64?] = [:]
        await withTaskGroup(of: (String, Int64?).self) { group in
            for (sku, skuEvents) in subsets {
                group.addTask {
                    var best: (threshold: Int64, lost: Int64)?
                    for threshold in candidates {
                        let o = play(RehearsalPolicy(kind: .guarded, thresholds: [sku: threshold]), skuEvents).outcome
                        guard o.units_oversold == 0 else { continue }
                        if o.units_lost < best?.lost ?? .max { best = (threshold, o.units_lost) }
                    }
                    return (sku, best?.threshold)
                }
            }
            for await (sku, threshold) in group { found[sku] = threshold }
        }
        return found
    }

    /// Plays the guard with the thresholds found on the whole day, where an order's other lines and other SKUs'
    /// shares act too: a SKU that still oversells gets the next larger candidate, for a few rounds. The figures
    /// reported are the whole day's.
    private func verify(
        _ found: [String: Int64?], mirrorOversold: [String: Int64], events: [RehearsalEvent],
        play: @Sendable (RehearsalPolicy, [RehearsalEvent]) -> Played
    ) -> ([Recommendation], Played) {
        var thresholds = found.compactMapValues { $0 }
        var policy = RehearsalPolicy(kind: .guarded, thresholds: thresholds)
        var played = play(policy, events)
        for _ in 0..<3 {
            let still = played.skus.filter { $0.value.units_oversold > 0 }.map(\.key)
            guard !still.isEmpty else { break }
            for sku in still {
                let current = thresholds[sku] ?? 0
                thresholds[sku] = candidateThresholds.first { $0 > current } ?? current
            }
            policy.thresholds = thresholds
            played = play(policy, events)
        }
        let skus = Set(mirrorOversold.keys).union(thresholds.keys)
        let recommendations = skus.map { sku in
            let day = played.skus[sku] ?? PolicyOutcome.Sku(sku: sku)
            return Recommendation(
                sku: sku, threshold: day.units_oversold == 0 ? thresholds[sku] : nil,
                units_oversold_mirror: mirrorOversold[sku] ?? 0, units_oversold: day.units_oversold,
                units_lost: day.units_lost)
        }
        return (recommendations.sorted { ($0.units_oversold_mirror, $1.sku) > ($1.units_oversold_mirror, $0.sku) }, played)
    }

    /// The events of each SKU in `skus`: its movements, orders reduced to its lines, refunds of those orders.
    static func events(of skus: Set<String>, in events: [RehearsalEvent]) -> [String: [RehearsalEvent]] {
        var out: [String: [RehearsalEvent]] = [:]
        var orderSkus: [OrderKey: Set<String>] = [:]
        for e in events {
            switch e.event {
            case .order(let s):
                for sku in Set(s.lines.map(\.sku)) where skus.contains(sku) {
                    orderSkus[s.key, default: []].insert(sku)
                    var one = s
                    one.lines = s.lines.filter { $0.sku == sku }
                    var copy = e
                    copy.event = .order(one)
                    out[sku, default: []].append(copy)
                }
            case .refund(let r):
                for sku in orderSkus[r.orderKey] ?? [] { out[sku, default: []].append(e) }
            case .movements(let ms):
                for sku in Set(ms.map(\.sku)) where skus.contains(sku) {
                    var copy = e
                    copy.event = .movements(ms.filter { $0.sku == sku })
                    out[sku, default: []].append(copy)
                }
            case .catalog, .ignored:
                break
            }
        }
        return out
    }

    // MARK: - Input

    /// A refusal's rule without the ids that make every reason unique: `movement m-1: unknown SKU 'X' (…)` →
    /// `movement: unknown SKU`.
    static func shortReason(_ reason: String) -> String {
        let kind = reason.split(separator: " ").first.map(String.init) ?? ""
        let rule =
            reason.split(separator: ":", maxSplits: 1).dropFirst().first.map {
                $0.trimmingCharacters(in: .whitespaces).split(separator: "'").first.map(String.init) ?? ""
            } ?? reason
        return "\(kind): \(rule.trimmingCharacters(in: .whitespaces))"
    }

    /// SKUs the warehouse has: in the starting stock or named by a movement.
    static func knownSkus(_ input: RehearsalInput) -> Set<String> {
        var known = Set(input.startingStock.keys)
        for e in input.events {
            if case .movements(let ms) = e.event { known.formUnion(ms.map(\.sku)) }
        }
        return known
    }

    /// Removes order lines of SKUs the warehouse never had: Stockwire does not keep their stock, so the shops sold
    /// them on their own; they are counted, not rehearsed.
    static func removeUnknownLines(_ input: inout RehearsalInput, known: Set<String>) {
        struct Line: Hashable {
            var order: OrderKey
            var id: Int64
        }
        var removed = Set<Line>()
        for i in input.events.indices {
            guard case .order(var s) = input.events[i].event else { continue }
            let before = s.lines.count
            for line in s.lines where !known.contains(line.sku) { removed.insert(Line(order: s.key, id: line.lineId)) }
            s.lines.removeAll { !known.contains($0.sku) }
            guard s.lines.count != before else { continue }
            input.events[i].event = .order(s)
        }
        if !removed.isEmpty {
            input.skip("order line(s) of a SKU the warehouse never had (no stock, no movement)", count: removed.count)
        }
    }
}
