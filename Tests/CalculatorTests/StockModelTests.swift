import Contracts
import Testing

@testable import StockCore
@testable import calculator

/// Builders for events in unit tests.
enum Make {
    static func cause(_ id: String, at ms: Int64 = 1_000) -> EventCause { EventCause(messageId: id, receivedAtMillis: ms) }

    static func order(
        _ id: Int64, shop: ShopDomain = "a.myshopify.com", at t: Int64, triggered: Int64? = nil, cancelled: Bool = false,
        _ lines: [(Int64, String, Int64, Int64?)]
    ) -> StockEvent {
        .order(
            OrderSnapshot(
                shop: shop, orderId: id, updatedAtMillis: t, triggeredAtMillis: triggered, cancelled: cancelled,
                lines: lines.map { .init(lineId: $0.0, sku: $0.1, quantity: $0.2, currentQuantity: $0.3 ?? $0.2) }))
    }

    static func movement(
        _ id: String, _ kind: StockMovement.Kind, _ sku: String, _ q: Int64, warehouse: String? = nil,
        shop: String? = nil, order: Int64? = nil, line: Int64? = nil
    ) -> StockEvent {
        .movements([
            StockMovement(
                movementId: id, sku: sku, kind: kind, quantity: q, warehouse: warehouse, shop: shop, orderId: order,
                lineItemId: line)
        ])
    }

    static func refund(_ id: Int64, order: Int64, shop: ShopDomain = "a.myshopify.com", _ lines: [(Int64, Int64, String)])
        -> StockEvent
    {
        .refund(
            RefundEvent(
                shop: shop, orderId: order, refundId: id,
                lines: lines.map { .init(lineId: $0.0, quantity: $0.1, restockType: $0.2) }))
    }

    static func state(skus: [String]) -> StockState {
        var s = StockState()
        for sku in skus { s.skus[sku] = SkuStock() }
        return s
    }
}

extension StockState {
    mutating func run(_ event: StockEvent, _ id: String) -> ApplyOutcome { apply(event, cause: Make.cause(id)) }
}

@Suite struct StockModelTests {
    @Test func availableIsOnHandMinusReservedMinusSafetyStockNeverNegative() {
        #expect(SkuStock(onHand: 10, reserved: 3, safetyStock: 2).available == 5)
        #expect(SkuStock(onHand: 1, reserved: 3, safetyStock: 0).available == 0)
        #expect(SkuStock(onHand: -4, reserved: 0, safetyStock: 0).available == 0)
    }

    @Test func receiptReturnCorrectionAndStocktakeMoveOnHand() {
        var s = Make.state(skus: ["A"])
        #expect(s.run(Make.movement("m1", .receipt, "A", 10), "w/m1") == .applied)
        #expect(s.run(Make.movement("m2", .return, "A", 2), "w/m2") == .applied)
        #expect(s.run(Make.movement("m3", .correction, "A", -5), "w/m3") == .applied)
        #expect(s.skus["A"]?.onHand == 7)
        #expect(s.run(Make.movement("m4", .stocktake, "A", 4), "w/m4") == .applied)
        #expect(s.skus["A"]?.onHand == 4)
        #expect(s.levels[LevelKey(sku: "A", warehouse: "default")] == 4)
    }

    @Test func stockInAWarehouseNotForSaleDoesNotCount() {
        var s = Make.state(skus: ["A"])
        s.warehouses["backroom"] = false
        _ = s.run(Make.movement("m1", .receipt, "A", 10, warehouse: "backroom"), "w/m1")
        _ = s.run(Make.movement("m2", .receipt, "A", 3), "w/m2")
        #expect(s.skus["A"]?.onHand == 3)
        #expect(s.levels[LevelKey(sku: "A", warehouse: "backroom")] == 10)
    }

    @Test func movementOfUnknownSkuOrWarehouseIsRejectedWithoutEffect() {
        var s = Make.state(skus: ["A"])
        guard case .rejected(let reason) = s.run(Make.movement("m1", .receipt, "B", 1), "w/m1") else {
            Issue.record("expected rejection")
            return
        }
        #expect(reason.contains("unknown SKU 'B'"))
        guard case .rejected = s.run(Make.movement("m2", .receipt, "A", 1, warehouse: "nowhere"), "w/m2") else {
            Issue.record("expected rejection")
            return
        }
        #expect(s.skus["A"] == SkuStock())
        #expect(s.takeChanges(computedAtMillis: 0).isEmpty)
    }

    @Test func olderSnapshotIsIgnoredNewerReplaces() {
        var s = Make.state(skus: ["A"])
        #expect(s.run(Make.order(1, at: 200, [(11, "A", 3, nil)]), "o1") == .applied)
        #expect(s.skus["A"]?.reserved == 3)
        #expect(s.run(Make.order(1, at: 100, [(11, "A", 5, nil)]), "o0") == .stale)
        #expect(s.run(Make.order(1, at: 200, [(11, "A", 5, nil)]), "o0b") == .stale)
        #expect(s.skus["A"]?.reserved == 3)
        #expect(s.run(Make.order(1, at: 300, [(11, "A", 3, 1)]), "o2") == .applied)
        #expect(s.skus["A"]?.reserved == 1)
    }

    @Test func twoChangesInTheSameSecondAreOrderedByTheirTriggerTime() {
        // Shopify's updated_at has whole seconds; X-Shopify-Triggered-At has milliseconds.
        var s = Make.state(skus: ["A"])
        #expect(s.run(Make.order(1, at: 5_000, triggered: 5_100, [(11, "A", 3, nil)]), "create") == .applied)
        #expect(s.run(Make.order(1, at: 5_000, triggered: 5_700, [(11, "A", 3, 1)]), "edit") == .applied)
        #expect(s.skus["A"]?.reserved == 1, "the edit in the same second is applied")
        #expect(s.run(Make.order(1, at: 5_000, triggered: 5_100, [(11, "A", 3, nil)]), "create-late") == .stale)
        #expect(s.run(Make.order(1, at: 5_000, triggered: 5_700, [(11, "A", 3, 1)]), "edit-again") == .stale)
        #expect(s.run(Make.order(1, at: 5_000, [(11, "A", 3, 0)]), "no-trigger") == .stale, "without a trigger time: not newer")
        #expect(s.skus["A"]?.reserved == 1)
        // A later updated_at wins whatever the trigger times say.
        #expect(s.run(Make.order(1, at: 6_000, triggered: 1, [(11, "A", 3, 2)]), "later") == .applied)
        #expect(s.skus["A"]?.reserved == 2)
        #expect(s.orders[OrderKey(shop: "a.myshopify.com", orderId: 1)]?.triggeredAtMillis == 1)
    }

    @Test func aSaleNettedOutByACancelInTheSameBatchIsStillAnnouncedGross() {
        var s = Make.state(skus: ["A"])
        _ = s.run(Make.movement("m", .receipt, "A", 10), "m")
        _ = s.takeChanges(computedAtMillis: 0)
        // Order 1 existed; in one batch the shop sells 1 more (order 2) and cancels order 1's unit.
        _ = s.run(Make.order(1, at: 100, [(11, "A", 1, nil)]), "o1")
        _ = s.takeChanges(computedAtMillis: 1)
        _ = s.run(Make.order(2, at: 200, [(21, "A", 1, nil)]), "o2")
        _ = s.run(Make.order(1, at: 300, cancelled: true, [(11, "A", 1, nil)]), "o1-cancel")
        let messages = s.takeChanges(computedAtMillis: 2)
        #expect(messages.count == 1, "announced although available did not change")
        #expect(messages.first?.available == 9)
        #expect(messages.first?.originSold == ["a.myshopify.com": 1])
        #expect(messages.first?.originQuantities == nil, "net 0")
        #expect(messages.first?.soldQuantity(of: "a.myshopify.com") == 1)
    }

    @Test func anOrderWhoseShipmentWasBookedFirstStillAnnouncesTheUnitsTheShopTook() {
        var s = Make.state(skus: ["A"])
        _ = s.run(Make.movement("m", .receipt, "A", 10), "m")
        _ = s.run(Make.movement("sh", .shipment, "A", 1, shop: "a.myshopify.com", order: 5, line: 51), "sh")
        _ = s.takeChanges(computedAtMillis: 0)
        // The order arrives after its shipment: nothing left to reserve, but the shop took 1 off its own count.
        #expect(s.run(Make.order(5, at: 100, [(51, "A", 1, nil)]), "o5") == .applied)
        let messages = s.takeChanges(computedAtMillis: 1)
        #expect(s.skus["A"]?.reserved == 0 && s.skus["A"]?.available == 9)
        #expect(messages.first?.originSold == ["a.myshopify.com": 1])
        // A later snapshot of the same order takes nothing new.
        _ = s.run(Make.order(5, at: 200, [(51, "A", 1, nil)]), "o5b")
        #expect(s.takeChanges(computedAtMillis: 2).isEmpty)
    }

    @Test func editToZeroAndCancelReleaseEverything() {
        var s = Make.state(skus: ["A", "B"])
        _ = s.run(Make.order(1, at: 1, [(11, "A", 2, nil), (12, "B", 4, nil)]), "o1")
        _ = s.run(Make.order(1, at: 2, [(11, "A", 2, 0), (12, "B", 4, nil)]), "o2")
        #expect(s.skus["A"]?.reserved == 0)
        #expect(s.skus["B"]?.reserved == 4)
        _ = s.run(Make.order(1, at: 3, cancelled: true, [(11, "A", 2, 0), (12, "B", 4, nil)]), "o3")
        #expect(s.skus["B"]?.reserved == 0)
    }

    @Test func repeatedSkuAcrossLinesAddsUp() {
        var s = Make.state(skus: [])
        _ = s.run(Make.order(1, at: 1, [(11, "A", 2, nil), (12, "A", 3, nil)]), "o1")
        #expect(s.skus["A"]?.reserved == 5)
    }

    @Test func shipmentLowersOnHandAndTheLineTogetherSoAvailableDoesNotDipTwice() {
        var s = Make.state(skus: ["A"])
        _ = s.run(Make.movement("r", .receipt, "A", 10), "w/r")
        _ = s.run(Make.order(7, at: 1, [(71, "A", 3, nil)]), "o")
        #expect(s.skus["A"]?.available == 7)
        _ = s.run(Make.movement("s", .shipment, "A", 2, shop: "a.myshopify.com", order: 7, line: 71), "w/s")
        #expect(s.skus["A"] == SkuStock(onHand: 8, reserved: 1, safetyStock: 0, version: 0))
        #expect(s.skus["A"]?.available == 7)
    }

    @Test func shipmentNamesItsOrdersShopWhateverTheCaseAndANonDomainIsRejected() {
        var s = Make.state(skus: ["A"])
        _ = s.run(Make.movement("r", .receipt, "A", 10), "w/r")
        _ = s.run(Make.order(7, at: 1, [(71, "A", 3, nil)]), "o")
        _ = s.run(Make.movement("s", .shipment, "A", 2, shop: " A.MyShopify.com", order: 7, line: 71), "w/s")
        #expect(s.skus["A"] == SkuStock(onHand: 8, reserved: 1, safetyStock: 0, version: 0))
        let before = s
        guard case .rejected(let reason) = s.run(Make.movement("x", .shipment, "A", 1, shop: "a_shop", order: 7, line: 71), "w/x")
        else {
            Issue.record("a shipment of a shop that is no domain must be rejected")
            return
        }
        #expect(reason.contains("movement x: shop:"))
        #expect(s.skus == before.skus && s.orders == before.orders, "rejected: nothing applied")
    }

    @Test func shipmentBeforeItsOrderIsRememberedForTheSnapshot() {
        var s = Make.state(skus: ["A"])
        _ = s.run(Make.movement("r", .receipt, "A", 10), "w/r")
        _ = s.run(Make.movement("s", .shipment, "A", 2, shop: "a.myshopify.com", order: 7, line: 71), "w/s")
        _ = s.run(Make.order(7, at: 1, [(71, "A", 3, nil)]), "o")
        #expect(s.skus["A"]?.onHand == 8)
        #expect(s.skus["A"]?.reserved == 1)
    }

    @Test func refundCancelReleasesReturnDoesNotAndNeitherCountsTwice() {
        var s = Make.state(skus: ["A"])
        _ = s.run(Make.movement("r", .receipt, "A", 10), "w/r")
        _ = s.run(Make.order(1, at: 1, [(11, "A", 4, nil)]), "o1")
        _ = s.run(Make.refund(900, order: 1, [(11, 1, "cancel")]), "rf1")
        #expect(s.skus["A"]?.reserved == 3)
        #expect(s.run(Make.refund(900, order: 1, [(11, 1, "cancel")]), "rf1-again") == .stale)
        _ = s.run(Make.refund(901, order: 1, [(11, 1, "return")]), "rf2")
        #expect(s.skus["A"]?.reserved == 3)
        #expect(s.skus["A"]?.onHand == 10)
        // The snapshot after the refund shows the same removal: not released twice.
        _ = s.run(Make.order(1, at: 2, [(11, "A", 4, 3)]), "o2")
        #expect(s.skus["A"]?.reserved == 3)
    }

    @Test func refundBeforeItsOrderApplies() {
        var s = Make.state(skus: ["A"])
        _ = s.run(Make.refund(900, order: 1, [(11, 2, "cancel")]), "rf")
        _ = s.run(Make.order(1, at: 1, [(11, "A", 5, nil)]), "o1")
        #expect(s.skus["A"]?.reserved == 3)
    }

    @Test func versionsBumpOncePerBatchAndMessagesCarryOrigin() {
        var s = Make.state(skus: ["A", "B"])
        _ = s.apply(Make.movement("r", .receipt, "A", 10), cause: Make.cause("warehouse/r", at: 50))
        _ = s.apply(Make.order(1, at: 1, [(11, "A", 2, nil)]), cause: Make.cause("a/1", at: 40))
        let messages = s.takeChanges(computedAtMillis: 99)
        #expect(messages.count == 1)
        let m = messages[0]
        #expect(m.sku == "A" && m.available == 8 && m.onHand == 10 && m.reserved == 2 && m.version == 1)
        #expect(m.causes == ["warehouse/r", "a/1"])
        #expect(m.originShop == "a.myshopify.com" && m.originQuantity == 2)
        #expect(m.firstReceivedAtMillis == 40 && m.computedAtMillis == 99)
        _ = s.apply(Make.movement("r2", .receipt, "A", 1), cause: Make.cause("warehouse/r2"))
        let next = s.takeChanges(computedAtMillis: 100)
        #expect(next.map(\.version) == [2])
        #expect(next[0].originShop == nil)
    }

    @Test func changeThatCancelsOutPublishesNothing() {
        var s = Make.state(skus: ["A"])
        _ = s.run(Make.movement("a", .correction, "A", 3), "x")
        _ = s.run(Make.movement("b", .correction, "A", -3), "y")
        #expect(s.takeChanges(computedAtMillis: 0).isEmpty)
        #expect(s.skus["A"]?.version == 0)
    }
}
