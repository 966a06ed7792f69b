import Contracts
import Testing

@testable import calculator

/// The first snapshot of an order the truth applies may already be edited down, refunded or cancelled: its
/// orders/create arrived late (Shopify delivers unordered, and retries a failed delivery for hours) or after its
/// refund. The shop still took every ordered unit off its own count at checkout, and Shopify restocked there what was
/// given back since; its exporter needs both figures to explain the level it reads in the shop, else it holds units
/// back from the shop (or skips a write it needed) for good. Found by `stockwire-scenario faults --fault kill-ingest`
/// (RELIABILITY.md).
@Suite struct FirstSnapshotSaleTests {
    @Test func anOrderFirstSeenEditedDownAnnouncesEveryUnitTheShopTookAndWhatItGaveBack() {
        var s = Make.state(skus: ["A"])
        _ = s.run(Make.movement("m", .receipt, "A", 10), "m")
        _ = s.takeChanges(computedAtMillis: 0)
        // Ordered 2, edited down to 1 before the truth heard of the order.
        #expect(s.run(Make.order(7, at: 200, [(71, "A", 2, 1)]), "o7-edited") == .applied)
        let messages = s.takeChanges(computedAtMillis: 1)
        #expect(s.skus["A"]?.reserved == 1)
        #expect(messages.first?.available == 9)
        #expect(messages.first?.originSold == ["a.myshopify.com": 2])
        #expect(messages.first?.originRestocked == ["a.myshopify.com": 1])
        // The late orders/create is older: stale, and announces nothing more.
        #expect(s.run(Make.order(7, at: 100, [(71, "A", 2, nil)]), "o7-create") == .stale)
        #expect(s.takeChanges(computedAtMillis: 2).isEmpty)
    }

    @Test func anOrderFirstSeenCancelledStillAnnouncesTheSaleAndItsRestock() {
        var s = Make.state(skus: ["A"])
        _ = s.run(Make.movement("m", .receipt, "A", 10), "m")
        _ = s.takeChanges(computedAtMillis: 0)
        #expect(s.run(Make.order(8, at: 300, cancelled: true, [(81, "A", 1, 0)]), "o8-cancelled") == .applied)
        let messages = s.takeChanges(computedAtMillis: 1)
        #expect(s.skus["A"]?.reserved == 0)
        #expect(messages.count == 1, "announced although available did not change")
        #expect(messages.first?.available == 10)
        #expect(messages.first?.originSold == ["a.myshopify.com": 1])
        #expect(messages.first?.originRestocked == ["a.myshopify.com": 1])
    }

    @Test func aRefundAppliedBeforeItsOrderIsAnnouncedAsARestockWithTheSale() {
        var s = Make.state(skus: ["A"])
        _ = s.run(Make.movement("m", .receipt, "A", 10), "m")
        _ = s.takeChanges(computedAtMillis: 0)
        #expect(s.run(Make.refund(90, order: 9, [(91, 1, "cancel")]), "r90") == .applied)
        #expect(s.run(Make.order(9, at: 100, [(91, "A", 1, nil)]), "o9-create") == .applied)
        let messages = s.takeChanges(computedAtMillis: 1)
        #expect(s.skus["A"]?.reserved == 0)
        #expect(messages.first?.originSold == ["a.myshopify.com": 1])
        #expect(messages.first?.originRestocked == ["a.myshopify.com": 1])
    }

    @Test func laterSnapshotsOfAKnownOrderAnnounceOnlyWhatTheyNewlyTookOrGaveBack() {
        var s = Make.state(skus: ["A"])
        _ = s.run(Make.movement("m", .receipt, "A", 10), "m")
        _ = s.run(Make.order(10, at: 100, [(101, "A", 2, nil)]), "o10")
        let created = s.takeChanges(computedAtMillis: 0)
        #expect(created.first?.originSold == ["a.myshopify.com": 2])
        #expect(created.first?.originRestocked == nil)
        _ = s.run(Make.order(10, at: 200, [(101, "A", 2, 1)]), "o10-edited")
        let edited = s.takeChanges(computedAtMillis: 1)
        #expect(edited.first?.originSold == nil)
        #expect(edited.first?.originRestocked == ["a.myshopify.com": 1])
        #expect(s.skus["A"]?.reserved == 1)
    }
}
