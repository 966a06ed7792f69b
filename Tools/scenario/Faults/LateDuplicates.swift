import Foundation
import ShopifySimulator

/// The `late-duplicates` fault.
struct LateDuplicates: FaultDefinition {
    let summary = """
        Every webhook kind sent three times, old order snapshots after new ones, snapshots and movements again "4 \
        hours late".
        """
    /// Reordered snapshots are the point of late-duplicates: Shopify delivers unordered, seconds to hours late.
    var defaultReorderWindowMs: Int { 2_000 }

    /// While the load runs: current order snapshots and refunds sent three times (one webhook id twice, as a
    /// Shopify retry, and a second id, as a Shopify duplicate), first-seen snapshots sent again after the order
    /// changed (reordered), accepted movements posted three times. After the load: snapshots stamped 4 hours
    /// earlier (a retry at the end of Shopify's schedule) and the seed receipts posted again. Each must apply once
    /// and roll nothing back.
    ///
    /// Every copy carries the `X-Shopify-Triggered-At` its original could have had: the moment just before the
    /// snapshot was read (no later change of the order can be older, no earlier one newer), so a copy never
    /// outranks a newer snapshot nor is outranked by an older one — as Shopify's own duplicates and retries.
    func inject(_ c: BlackFriday.LoadContext, _ injector: FaultInjector) async throws {
        let sender = try InjectedSender(stack: injector.stack, log: injector.injection)
        var rng = SplitMix64(seed: injector.load.seed &+ 7)
        var firstSeen: [String: (order: Order, readAt: Date)] = [:]
        var resentRefunds = Set<Int64>()
        var counts = (snapshots: 0, reordered: 0, refunds: 0, movements: 0)
        let end = c.start.addingTimeInterval(injector.load.seconds)
        try await injector.at(c, 0.5)
        while Date() < end {
            for shop in injector.stack.domains {
                let readAt = Date()
                let orders = try await c.sim.orders(shop: shop)
                for o in orders where firstSeen["\(shop)/\(o.id)"] == nil { firstSeen["\(shop)/\(o.id)"] = (o, readAt) }
                guard !orders.isEmpty else { continue }
                for _ in 0..<2 {
                    let o = orders[rng.below(orders.count)]
                    await sender.threeTimes(
                        shop: shop, topic: "orders/updated", body: try InjectedSender.json(o), triggeredAt: readAt)
                    counts.snapshots += 1
                }
                let changed = orders.filter { o in firstSeen["\(shop)/\(o.id)"].map { $0.order != o } ?? false }
                for _ in 0..<min(2, changed.count) {
                    let old = firstSeen["\(shop)/\(changed[rng.below(changed.count)].id)"]!
                    await sender.once(
                        shop: shop, topic: "orders/updated", body: try InjectedSender.json(old.order), triggeredAt: old.readAt)
                    counts.reordered += 1
                }
                if let refund = orders.flatMap(\.refunds).first(where: { !resentRefunds.contains($0.id) }) {
                    resentRefunds.insert(refund.id)
                    await sender.threeTimes(
                        shop: shop, topic: "refunds/create", body: try InjectedSender.json(refund), triggeredAt: readAt)
                    counts.refunds += 1
                }
            }
            let movements = await c.warehouse.accepted
            for _ in 0..<2 where !movements.isEmpty {
                let m = movements[rng.below(movements.count)]
                for _ in 0..<3 { await sender.post(m) }
                counts.movements += 1
            }
            try await Task.sleep(for: .milliseconds(500))
        }
        await injector.note(
            "during the load: \(counts.snapshots) current snapshots ×3, \(counts.reordered) first-seen snapshots after newer ones, "
                + "\(counts.refunds) refunds ×3, \(counts.movements) movements ×3")

        // 4 hours late: snapshots stamped 4 hours earlier than they were, each delivered twice with one webhook id;
        // the first receipts of the run posted again.
        var late = 0
        for shop in injector.stack.domains {
            let orders = try await c.sim.orders(shop: shop)
            for o in orders.prefix(10) {
                guard var (old, readAt) = firstSeen["\(shop)/\(o.id)"], let stamp = Self.parseREST(old.updatedAt) else {
                    continue
                }
                old.updatedAt = Self.formatREST(stamp.addingTimeInterval(-4 * 3600))
                readAt.addTimeInterval(-4 * 3600)
                await sender.twiceOneId(
                    shop: shop, topic: "orders/updated", body: try InjectedSender.json(old), triggeredAt: readAt)
                late += 1
            }
        }
        let seeds = await c.warehouse.accepted.prefix(5)
        for m in seeds { await sender.post(m) }
        await injector.note("after the load: \(late) snapshots 4 hours late (twice each), \(seeds.count) seed receipts again")
    }

    /// A REST timestamp (`2026-05-15T10:20:30-04:00`) as a date.
    private static func parseREST(_ text: String) -> Date? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.date(from: text)
    }

    /// A date as a REST timestamp (UTC, whole seconds).
    private static func formatREST(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: date)
    }
}
