import Contracts
import Testing

@testable import ExporterCore

/// The shop writer's receive decisions, without a broker or a shop: what a message does to the ledger and to what
/// is written next.
@Suite struct ShopWriterStateTests {
    let shop = "s.myshopify.com"

    func state() -> ShopWriterState<Int> {
        var s = ShopWriterState<Int>(unseenTTL: .seconds(900), recheckAfter: [])
        _ = s.catalog.recordLookup(sku: "A", items: ["i1"])
        return s
    }

    func message(_ version: Int64, available: Int64, sold: Int64? = nil) -> AvailabilityMessage {
        AvailabilityMessage(
            sku: "A", available: available, onHand: available, reserved: 0, version: version, causes: [],
            originShop: sold == nil ? nil : shop, originQuantity: sold, computedAtMillis: 0)
    }

    /// v8 was written; v7, which carries the shop's own sale, arrives late (the outbox sent it again). It is
    /// acknowledged as obsolete, but its sale reaches the ledger once and the SKU is planned again with v8, which
    /// nothing else would do (`faults --fault broker-node-kill --broker-nodes 3 --seed 5`).
    @Test func aLateOlderVersionWithTheShopsOwnSaleIsTakenInOnceAndPlansTheSkuAgain() {
        var s = state()
        s.ledger.beginWrite(items: ["i1"])
        s.ledger.wrote(item: "i1", quantity: 10)
        s.coalescer.markWritten(sku: "A", version: 8)
        s.lastWritten["A"] = message(8, available: 10)
        #expect(s.receive(message(7, available: 11, sold: 1), token: 1, shop: shop, resync: false, reconcile: false) == .obsolete)
        #expect(s.ledger.item("i1").believed == 9, "the shop's own sale lowered what it holds")
        let planned = s.coalescer.take(limit: 10).write
        #expect(planned.map(\.message.version) == [8] && planned.first?.tokens == [], "v8 planned again, nothing to ack")
        // The same version delivered again: its sale is not taken twice, nothing is planned.
        #expect(s.receive(message(7, available: 11, sold: 1), token: 2, shop: shop, resync: false, reconcile: false) == .obsolete)
        #expect(s.ledger.item("i1").believed == 9 && s.coalescer.count == 0)
    }

    /// A sale announced while a write of the SKU is on its way: that write was planned without it, so the SKU is
    /// planned again once the write settles.
    @Test func theShopsOwnSaleArrivingDuringAWritePlansTheSkuAgainAfterTheSettle() {
        var s = state()
        s.ledger.beginWrite(items: ["i1"])
        s.ledger.wrote(item: "i1", quantity: 10)
        s.ledger.beginWrite(items: ["i1"])
        #expect(s.receive(message(9, available: 9, sold: 1), token: 1, shop: shop, resync: false, reconcile: false) == .queued)
        #expect(s.rewriteAfterSettle == ["A"])
        // Another shop's sale moves nothing in this shop's ledger and asks for nothing more.
        var quiet = state()
        quiet.ledger.beginWrite(items: ["i1"])
        #expect(quiet.receive(message(9, available: 9), token: 1, shop: shop, resync: false, reconcile: false) == .queued)
        #expect(quiet.rewriteAfterSettle.isEmpty && quiet.ledger.item("i1").believed == nil)
    }

    /// The guard's `sold_totals` figure follows the newest version only.
    @Test func theSoldTotalSeenIsTheNewestVersions() {
        var s = state()
        var m = message(5, available: 3)
        m.soldTotals = [shop: 4]
        _ = s.receive(m, token: 1, shop: shop, resync: false, reconcile: false)
        m.version = 4
        m.soldTotals = [shop: 2]
        _ = s.receive(m, token: 2, shop: shop, resync: false, reconcile: false)
        #expect(s.soldTotalSeen["A"] == 4 && s.maxSeenVersion["A"] == 5)
    }

    /// A catalog message that gives a written SKU a new item writes it again at once (the item has never been
    /// written); a SKU none of whose writes finished yet is written again once the one on its way settles.
    @Test func aSkuWhoseItemsChangedIsWrittenAgainNowOrAfterItsWriteSettles() throws {
        var s = state()
        s.lastWritten["A"] = message(3, available: 6)
        let (change, rewrites) = s.apply(
            CatalogMessage(
                shop: try ShopDomain(shop), productId: 1, updatedAtMillis: 1,
                variants: [
                    .init(variantId: 1, sku: "A", inventoryItemId: 2), .init(variantId: 2, sku: "B", inventoryItemId: 3),
                ]))
        #expect(Set(change.changed.keys) == ["A", "B"] && rewrites == 1)
        #expect(s.coalescer.take(limit: 10).write.map(\.message.version) == [3])
        #expect(s.rewriteAfterSettle == ["B"])
    }

    func entry(_ version: Int64, target: Int64, items: [String] = ["i1"], guarded: Bool = false, verify: Bool = false)
        -> WriteEntry<Int>
    {
        var m = message(version, available: target)
        if guarded { m.shares = [shop: target] }
        return WriteEntry(pending: .init(message: m, tokens: [1], verify: verify), items: items, target: target)
    }

    /// Before a plan, the writer reads what it does not know: items never read or written, and a read-back's
    /// items once per write.
    @Test func unknownItemsAndReadBacksAreReadBeforeThePlan() {
        var s = state()
        #expect(s.itemsToRead([entry(1, target: 5)], readBack: false) == ["i1"])
        s.ledger.beginWrite(items: ["i1"])
        s.ledger.wrote(item: "i1", quantity: 5)
        #expect(s.itemsToRead([entry(2, target: 4)], readBack: false).isEmpty)
        #expect(s.itemsToRead([entry(2, target: 4, verify: true)], readBack: false) == ["i1"])
        #expect(s.itemsToRead([entry(2, target: 4, verify: true)], readBack: true).isEmpty)
    }

    /// A plan compares against what the ledger believes, holds back unseen loss, sends nothing the shop holds
    /// already, and reports a held level only under the guard; the guard's share goes to the SKU's first item.
    @Test func aPlanSendsWhatDiffersHoldsBackUnseenLossAndReportsHeldLevelsOnlyUnderTheGuard() {
        var s = state()
        for item in ["i1", "i2", "i3", "i4"] {
            s.ledger.beginWrite(items: [item])
            s.ledger.wrote(item: item, quantity: 10)
        }
        s.ledger.observed(item: "i2", actual: 8, now: .now)  // two units gone that no announced sale explains
        let plan = s.plan(
            [
                entry(1, target: 7, items: ["i1"]),  // differs: sent
                entry(1, target: 12, items: ["i2"]),  // 12 less the 2 unseen, against the 8 seen
                entry(1, target: 10, items: ["i3"]),  // held, no guard: nothing
                entry(1, target: 10, items: ["i4", "i5"], guarded: true),  // held under the guard; i5 gets 0
            ], now: .now)
        #expect(plan.send.map(\.item) == ["i1", "i2", "i5"])
        #expect(plan.send.map(\.quantity) == [7, 10, 0])
        #expect(plan.send.map(\.changeFrom) == [10, 8, nil])
        #expect(plan.send.map(\.entry) == [0, 1, 3])
        #expect(plan.heldGuarded.map(\.item) == ["i4"] && plan.heldBack["i2"] == 2)
    }

    /// A round that sent i1 (SKU 0), i2 and i3 (SKU 1, two variants) and i4 (SKU 2).
    var sentPlan: WritePlan {
        var plan = WritePlan()
        plan.send = [("i1", 0), ("i2", 1), ("i3", 1), ("i4", 2)].map {
            WritePlan.Item(item: $0.0, quantity: 1, changeFrom: 2, entry: $0.1)
        }
        return plan
    }

    func refusal(_ code: String?, _ index: Int?, _ kind: ShopPlatform.UserError.Kind = .other) -> WriteRefusal {
        WriteRefusal(code: code, message: "m", index: index, kind: kind)
    }

    /// How the writer reads an answer: stale items are read again and the SKUs the shop held as planned go on
    /// their own; a bundle parent is left out; a refusal of one item refuses its SKU only, once; a refusal naming
    /// no item (or an item the round did not send) refuses the round.
    @Test func anAnswerIsReadIntoWhatTheWriterDoesNext() {
        let plan = sentPlan
        #expect(plan.answer([], entryCount: 3) == .applied)
        #expect(plan.answer([refusal("STALE", 2, .stale)], entryCount: 3) == .stale(entries: [1], read: ["i3"]))
        #expect(
            plan.answer([refusal("STALE", nil, .stale)], entryCount: 3)
                == .stale(entries: [0, 1, 2], read: ["i1", "i2", "i3", "i4"]))
        #expect(
            plan.answer([refusal("NOT_WRITABLE", 3, .notWritable), refusal("STALE", 0, .stale)], entryCount: 3)
                == .leaveOut(sent: [3]))
        let mixed = [refusal("NOT_WRITABLE", 3, .notWritable), refusal("INVALID", 1), refusal("INVALID", 2)]
        #expect(plan.answer(mixed, entryCount: 3) == .refused(entries: [2, 1], refusals: [mixed[0], mixed[1]]))
        #expect(plan.answer([refusal("INVALID", 0), refusal("BAD", nil)], entryCount: 3) == .refusedAll(refusal("BAD", nil)))
        #expect(plan.answer([refusal("INVALID", 9)], entryCount: 3) == .refusedAll(refusal("INVALID", 9)))
    }
}
