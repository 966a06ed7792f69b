import Contracts
import StockwireTestSupport
import Testing

@testable import StockCore
@testable import calculator

/// The zero-oversell guard: its arithmetic, and its invariant as a property over random interleavings of sales,
/// cancellations, late webhooks, exporter writes (compare-and-set, as Shopify does them), late or lost write reports,
/// receipts and re-balancing.
@Suite struct StockGuardTests {
    static let shops: [ShopDomain] = ["a.myshopify.com", "b.myshopify.com", "c.myshopify.com", "d.myshopify.com"]

    func settings(threshold: Int64 = 20, shops: [ShopDomain] = StockGuardTests.shops) -> StockGuard.Settings {
        StockGuard.Settings(threshold: threshold, shops: shops, rebalanceAfterMillis: 10_000, demandHalfLifeMillis: 60_000)
    }

    @Test func partsFollowDemandAndGiveEveryShopWithDemandAUnit() {
        let parts = Dictionary(
            uniqueKeysWithValues: StockGuard.parts(
                of: 10,
                weights: [("a.myshopify.com", 8), ("b.myshopify.com", 1), ("c.myshopify.com", 0.01), ("d.myshopify.com", 0)]))
        #expect(parts.values.reduce(0, +) == 10)
        #expect(parts["c.myshopify.com"]! >= 1, "a shop with demand keeps a unit")
        #expect(parts["a.myshopify.com"]! > parts["b.myshopify.com"]!)
        #expect(parts["d.myshopify.com"] == 0)
        let scarce = Dictionary(
            uniqueKeysWithValues: StockGuard.parts(
                of: 2, weights: [("a.myshopify.com", 5), ("b.myshopify.com", 3), ("c.myshopify.com", 1)]))
        #expect(
            scarce == ["a.myshopify.com": 1, "b.myshopify.com": 1, "c.myshopify.com": 0],
            "fewer units than shops: the busiest shops first")
        let equal = Dictionary(
            uniqueKeysWithValues: StockGuard.parts(of: 7, weights: [("a.myshopify.com", 0), ("b.myshopify.com", 0)]))
        #expect(equal.values.sorted() == [3, 4])
    }

    @Test func enteringTheGuardSplitsTheStockAndRaisesNothingBeforeEveryShopConfirmed() {
        var g = StockGuard()
        let r1 = g.allocate(available: 21, version: 1, now: 0, settings: settings())
        #expect(!r1, "above the threshold: mirror mode")
        #expect(g.shares == nil)
        let r2 = g.allocate(available: 20, version: 2, now: 0, settings: settings())
        #expect(r2)
        #expect(g.shares!.values.reduce(0, +) == 20)
        #expect(g.free(available: 20) == 0, "what each shop shows is unknown until its exporter confirms")
        // Shop a sells out its share, as the truth learns: its share is 0, nothing can be raised yet.
        g.ownChange(shop: "a.myshopify.com", net: 5, version: 3, now: 100, settings: settings())
        _ = g.allocate(available: 15, version: 3, now: 100, settings: settings())
        #expect(g.shares!["a.myshopify.com"] == 0)
        // Every shop confirms its write: now units are known to be free only if the sum of claims is below stock.
        for shop: ShopDomain in ["b.myshopify.com", "c.myshopify.com", "d.myshopify.com"] {
            g.confirm(shop: shop, version: 2, value: 5, heldBack: 0, soldTotal: 0)
        }
        g.confirm(shop: "a.myshopify.com", version: 3, value: 0, heldBack: 0, soldTotal: 5)
        #expect(g.free(available: 15) == 0)
        #expect(g.shops["a.myshopify.com"]!.granted == 0)
    }

    @Test func aConfirmationOfAWriteOlderThanARaiseFreesNothing() {
        var g = StockGuard()
        _ = g.allocate(
            available: 4, version: 1, now: 0, settings: settings(threshold: 4, shops: ["a.myshopify.com", "b.myshopify.com"]))
        g.confirm(shop: "a.myshopify.com", version: 1, value: 2, heldBack: 0, soldTotal: 0)
        g.confirm(shop: "b.myshopify.com", version: 1, value: 2, heldBack: 0, soldTotal: 0)
        // A receipt of 4 frees 4; a raises by 2 at version 2.
        _ = g.allocate(
            available: 8, version: 2, now: 0, settings: settings(threshold: 4, shops: ["a.myshopify.com", "b.myshopify.com"]))
        #expect(g.shares == ["a.myshopify.com": 4, "b.myshopify.com": 4])
        #expect(g.shops["a.myshopify.com"]!.granted == 4)
        // A late report of a's version-1 write (value 2) must not take the raise back out of its claim.
        let freed = g.confirm(shop: "a.myshopify.com", version: 1, value: 2, heldBack: 0, soldTotal: 0)
        #expect(!freed)
        #expect(g.shops["a.myshopify.com"]!.granted == 4)
    }

    @Test func anIdleShopGivesItsSurplusBackAndTheBusyShopGetsItOnceConfirmed() {
        let s = settings(threshold: 10, shops: ["a.myshopify.com", "b.myshopify.com"])
        var g = StockGuard()
        _ = g.allocate(available: 10, version: 1, now: 0, settings: s)
        g.confirm(shop: "a.myshopify.com", version: 1, value: 5, heldBack: 0, soldTotal: 0)
        g.confirm(shop: "b.myshopify.com", version: 1, value: 5, heldBack: 0, soldTotal: 0)
        // a sells its 5; b sells nothing.
        g.ownChange(shop: "a.myshopify.com", net: 5, version: 3, now: 1_000, settings: s)
        _ = g.allocate(available: 5, version: 2, now: 1_000, settings: s)
        #expect(g.shares == ["a.myshopify.com": 0, "b.myshopify.com": 5])
        // After 10 s b is idle: its share falls to its part (1: a unit while units remain, though it has no demand
        // ... a gets the rest by demand), but a gets nothing until b's exporter confirmed the lower count.
        _ = g.allocate(available: 5, version: 3, now: 11_000, settings: s)
        #expect(g.shares!["b.myshopify.com"]! < 5)
        #expect(g.shares!["a.myshopify.com"] == 0)
        g.confirm(shop: "b.myshopify.com", version: 3, value: g.shares!["b.myshopify.com"]!, heldBack: 0, soldTotal: 0)
        _ = g.allocate(available: 5, version: 4, now: 11_100, settings: s)
        #expect(g.shares!["a.myshopify.com"]! > 0)
        #expect(g.shares!.values.reduce(0, +) <= 5)
    }

    @Test func aStockFallWithoutASaleLowersTheSharesAtOnce() {
        var g = StockGuard()
        _ = g.allocate(
            available: 9, version: 1, now: 0,
            settings: settings(threshold: 10, shops: ["a.myshopify.com", "b.myshopify.com", "c.myshopify.com"]))
        #expect(g.shares!.values.reduce(0, +) == 9)
        // A stocktake finds 4 units fewer: nothing was sold in a shop, yet the shares must fit the new truth.
        let r3 = g.allocate(
            available: 5, version: 2, now: 0,
            settings: settings(threshold: 10, shops: ["a.myshopify.com", "b.myshopify.com", "c.myshopify.com"]))
        #expect(r3)
        #expect(g.shares!.values.reduce(0, +) <= 5)
    }

    @Test func leavingTheGuardAboveTwiceTheThreshold() {
        var g = StockGuard()
        _ = g.allocate(available: 5, version: 1, now: 0, settings: settings(threshold: 5))
        #expect(g.active)
        let r4 = g.allocate(available: 10, version: 2, now: 0, settings: settings(threshold: 5))
        #expect(!r4 || g.active)
        let r5 = g.allocate(available: 11, version: 3, now: 0, settings: settings(threshold: 5))
        #expect(r5)
        #expect(!g.active && g.shares == nil)
    }

    // MARK: - The invariant, over random interleavings

    /// One shop as Shopify holds it, and its exporter (the ledger's compare-and-set rule, reduced to its core).
    struct ShopModel {
        var shown: Int64 = 0
        /// Net own sales not yet delivered to the calculator (webhooks in flight), in order.
        var sold: Int64 = 0
        // Exporter.
        var inbox: [AvailabilityMessage] = []
        var maxSeen: Int64 = 0
        var believed: Int64?
        var unseen: Int64 = 0
        var gained: Int64 = 0
        var soldSeen: Int64 = 0
        var lastSoldTotal: Int64 = 0
    }

    @Test(arguments: 0..<300)
    func sharesNeverLetTheShopsSellMoreThanTheStock(seed: Int) {
        var rng = SeededGenerator(seed: UInt64(seed) &* 7919 &+ 13)
        let names = Array(Self.shops.prefix(2 + Int(rng.next() % 3)))
        let s = StockGuard.Settings(
            threshold: Int64(3 + rng.next() % 30), shops: names, rebalanceAfterMillis: 2_000, demandHalfLifeMillis: 5_000)
        var shops = Dictionary(uniqueKeysWithValues: names.map { ($0, ShopModel()) })
        var guardState = StockGuard()
        var version: Int64 = 0
        var now: Int64 = 0
        var realStock: Int64 = 0  // on hand − net sold, as it really is
        var knownAvailable: Int64 = 0  // as the calculator knows it
        var webhooks: [(shop: ShopDomain, net: Int64)] = []  // sales and cancellations on their way to the calculator
        var reports: [(shop: ShopDomain, write: WriteReport.Write)] = []  // write reports on their way back
        var trace: [String] = []  // what happened, printed when the invariant breaks
        func note(_ line: String) {
            trace.append(
                "t=\(now) v\(version) \(line) | shown \(names.map { "\($0)=\(shops[$0]!.shown)" }.joined(separator: " ")) real \(realStock) "
                    + "known \(knownAvailable) shares \(guardState.shares ?? [:]) granted \(guardState.shops.mapValues { $0.granted ?? -1 })"
            )
        }

        func publish(_ changedShares: Bool, causedBy own: [String: Int64] = [:]) {
            guard changedShares || !own.isEmpty else { return }
            version += 1
            let m = AvailabilityMessage(
                sku: "X", available: knownAvailable, onHand: knownAvailable, reserved: 0, version: version, causes: [],
                originQuantities: own.isEmpty ? nil : own, originSold: own.filter { $0.value > 0 },
                originRestocked: own.filter { $0.value < 0 }.mapValues { -$0 },
                shares: guardState.shares?.byDomainText, soldTotals: guardState.soldTotals?.byDomainText,
                computedAtMillis: now)
            for n in names { shops[n]!.inbox.append(m) }
        }

        // Stock arrives (a launch: the shops show 0 until the first write).
        let launch = Int64(1 + rng.next() % UInt64(s.threshold))
        realStock = launch
        knownAvailable = launch
        publish(guardState.allocate(available: knownAvailable, version: version + 1, now: now, settings: s))
        #expect(guardState.active)

        for _ in 0..<400 {
            now += Int64(rng.next() % 700)
            let name = names[Int(rng.next() % UInt64(names.count))]
            switch rng.next() % 9 {
            case 0, 1, 2:  // a buyer in `name`: Shopify sells only what the shop shows
                if shops[name]!.shown > 0 {
                    shops[name]!.shown -= 1
                    shops[name]!.sold += 1
                    realStock -= 1
                    webhooks.append((name, 1))
                    note("sale in \(name)")
                }
            case 3:  // a cancellation in `name`: Shopify restocks the shop
                if shops[name]!.sold > 0 {
                    shops[name]!.shown += 1
                    shops[name]!.sold -= 1
                    realStock += 1
                    webhooks.append((name, -1))
                    note("cancel in \(name)")
                }
            case 4:  // the calculator learns one webhook (any order)
                guard !webhooks.isEmpty else { continue }
                let w = webhooks.remove(at: Int(rng.next() % UInt64(webhooks.count)))
                knownAvailable -= w.net
                guardState.ownChange(shop: w.shop, net: w.net, version: version + 1, now: now, settings: s)
                publish(
                    guardState.allocate(available: knownAvailable, version: version + 1, now: now, settings: s),
                    causedBy: [w.shop.description: w.net])
                note("learned \(w.net) of \(w.shop)")
            case 5:  // the exporter of `name` writes the newest message (compare-and-set)
                var m = shops[name]!
                guard !m.inbox.isEmpty else { continue }
                for msg in m.inbox where msg.version > m.maxSeen {
                    // The ledger (ShopLedger steps 2 and 2b): a sale the truth now has explains held-back loss, or
                    // lowers the belief; units the shop's own orders gave back raise it (Shopify restocked them).
                    m.lastSoldTotal = msg.soldTotals?[name.description] ?? m.lastSoldTotal
                    let sold = msg.soldQuantity(of: name.description) ?? 0
                    if sold > 0 {
                        let explained = min(m.unseen, sold)
                        m.unseen -= explained
                        if let b = m.believed { m.believed = b - (sold - explained) }
                    }
                    let restocked = msg.restockedQuantity(of: name.description)
                    let early = min(m.gained, restocked)
                    m.gained -= early
                    if restocked > 0, let b = m.believed { m.believed = b + restocked - early }
                    m.maxSeen = msg.version
                    m.soldSeen = m.lastSoldTotal
                }
                let newest = m.inbox.max { $0.version < $1.version }!
                m.inbox = []
                let target = newest.target(for: name.description)
                if m.believed == nil { m.believed = m.shown }
                if m.shown != m.believed! {  // stale: read, account for the difference
                    if m.shown < m.believed! { m.unseen += m.believed! - m.shown }
                    if m.shown > m.believed! { m.gained += m.shown - m.believed! }
                    m.believed = m.shown
                }
                let w = max(0, target - m.unseen)
                m.shown = w
                m.believed = w
                if newest.shares != nil {
                    reports.append(
                        (
                            name,
                            WriteReport.Write(
                                sku: "X", version: newest.version, value: w, writtenAtMillis: now, firstReceivedAtMillis: nil,
                                heldBack: m.unseen, soldTotal: m.soldSeen)
                        ))
                }
                shops[name] = m
                note("\(name) wrote v\(newest.version) target \(target) → \(w) (unseen \(m.unseen), soldSeen \(m.soldSeen))")
            case 6:  // a write report reaches the calculator (some are lost)
                guard !reports.isEmpty else { continue }
                let r = reports.remove(at: Int(rng.next() % UInt64(reports.count)))
                if rng.next() % 5 == 0 { continue }
                guardState.confirm(
                    shop: r.shop, version: r.write.version, value: r.write.value, heldBack: r.write.heldBack!,
                    soldTotal: r.write.soldTotal!)
                note(
                    "report \(r.shop) v\(r.write.version) value \(r.write.value) held \(r.write.heldBack!) sold \(r.write.soldTotal!)"
                )
                publish(guardState.allocate(available: knownAvailable, version: version + 1, now: now, settings: s))
            case 7:  // time passes: the review re-balances
                publish(guardState.allocate(available: knownAvailable, version: version + 1, now: now, settings: s))
            default:  // a small receipt (stays guarded below twice the threshold, or leaves it)
                guard rng.next() % 4 == 0 else { continue }
                let k = Int64(1 + rng.next() % 3)
                realStock += k
                knownAvailable += k
                publish(guardState.allocate(available: knownAvailable, version: version + 1, now: now, settings: s))
            }
            guard guardState.active else { return }  // mirror mode again: the guard's promise ends there
            let shares = guardState.shares!.values.reduce(0, +)
            #expect(
                shares <= max(0, knownAvailable),
                "seed \(seed): shares add up to \(shares), available is \(knownAvailable):\n\(trace.suffix(12).joined(separator: "\n"))"
            )
            if shares > max(0, knownAvailable) { return }
            let shown = names.reduce(Int64(0)) { $0 + shops[$1]!.shown }
            #expect(
                shown <= realStock,
                "seed \(seed): the shops show \(shown) but only \(realStock) exist:\n\(trace.suffix(25).joined(separator: "\n"))")
            #expect(realStock >= 0, "seed \(seed): oversold")
            if shown > realStock || realStock < 0 { return }
        }
    }
}
