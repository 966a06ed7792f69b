import Contracts
import Foundation
import Testing

@testable import StockCore
@testable import calculator

/// The rehearsal of a small hand-made day gives the numbers worked out by hand.
///
/// The day: SKU S, 3 units; shops a and b, sync delay 100 ms each.
///
/// | t (ms) | shop | order   |
/// |-------:|------|---------|
/// |      0 | a    | #1: S×1 |
/// |     50 | b    | #2: S×2 |
/// |    120 | a    | #3: S×2 |
/// |    200 | b    | #4: S×1 |
///
/// **Mirror.** #1 (a shows 3): sold, 2 left. #2 (b still shows 3; the write of t=0 lands at 100): sold, 0 left.
/// At 100 the write of t=0 lands: a is set to 2, b to 2 less its own 2 units sold since = 0. #3 (a shows 2): sold,
/// 2 units oversold. #4 (b shows 0): refused, and the warehouse had nothing: not lost. Sold 5, oversold 2.
///
/// **Guard, threshold 3** (3 ≤ 3: guarded from the start, shares a 2, b 1, confirmed). #1 (a shows 2): sold; a's share
/// and claim fall to 1; b keeps 1. #2 (b shows 1 < 2): refused, the warehouse had 2: lost (2 units). #3 (a shows 1 <
/// 2): refused, 2 available: lost (2 units). #4 (b shows 1): sold. Sold 2, oversold 0, lost 2 orders, 4 units.
///
/// **Guard, threshold 2** (3 > 2: mirror at the start). #1: 2 left ≤ 2, the guard enters: shares a 1, b 1 (a shows
/// 3 − 1 = 2 meanwhile). #2 (b still shows 3): sold, 0 left; the shares drop to 0. At 100 a is set to 1, b to
/// max(0, 1 − 2) = 0. #3 (a shows 1 < 2): refused, nothing left: not lost. #4 (b shows 0): refused, not lost.
/// Sold 3, oversold 0, lost 0. Threshold 1 lets #3 oversell as mirror does, so 2 is the recommendation.
///
/// **Interval, 1 min** (both shops show 3 until the next sync at 60 s): every order sold. a: 3 − 1 − 2; b: 3 − 2 − 1.
/// Sold 6; #3 oversold 2 and #4 1: 3.
@Suite struct RehearsalTests {
    static let a: ShopDomain = "a.myshopify.com"
    static let b: ShopDomain = "b.myshopify.com"

    static func order(_ id: Int64, _ shop: ShopDomain, at t: Int64, _ quantity: Int64) -> RehearsalEvent {
        RehearsalEvent(
            atMillis: t,
            event: .order(
                OrderSnapshot(
                    shop: shop, orderId: id, updatedAtMillis: t, cancelled: false,
                    lines: [.init(lineId: id * 10, sku: "S", quantity: quantity, currentQuantity: quantity)])),
            cause: EventCause(messageId: "\(shop)/\(id)", receivedAtMillis: t), topic: "orders/create")
    }

    static func day() -> RehearsalInput {
        var input = RehearsalInput()
        input.startingStock = ["S": 3]
        input.events = [order(1, a, at: 0, 1), order(2, b, at: 50, 2), order(3, a, at: 120, 2), order(4, b, at: 200, 1)]
        input.read = 4
        return input
    }

    static func rehearse(_ policies: [String]) async throws -> RehearsalReport {
        let settings = RehearsalSettings(shops: [a, b], delays: [a: 100, b: 100])
        let rehearsal = Rehearsal(
            input: day(), policies: try policies.map(RehearsalPolicy.init(parsing:)), settings: settings, source: "test")
        return await rehearsal.run()
    }

    @Test func theHandMadeDayGivesTheHandWorkedNumbers() async throws {
        let report = try await Self.rehearse(["mirror", "guard=3", "guard=2", "interval=1"])
        let by = Dictionary(uniqueKeysWithValues: report.policies.map { ($0.name, $0) })
        #expect(report.policies.map(\.name) == ["mirror", "guard-3", "guard-2", "interval-1m"])

        let mirror = try #require(by["mirror"])
        #expect((mirror.orders_placed, mirror.orders_accepted, mirror.units_sold, mirror.units_oversold) == (4, 3, 5, 2))
        #expect((mirror.orders_lost, mirror.units_lost, mirror.units_stranded) == (0, 0, 0))

        let guard3 = try #require(by["guard-3"])
        #expect((guard3.orders_accepted, guard3.units_sold, guard3.units_oversold) == (2, 2, 0))
        #expect((guard3.orders_lost, guard3.units_lost) == (2, 4))

        let guard2 = try #require(by["guard-2"])
        #expect((guard2.orders_accepted, guard2.units_sold, guard2.units_oversold) == (2, 3, 0))
        #expect((guard2.orders_lost, guard2.units_lost) == (0, 0))

        let interval = try #require(by["interval-1m"])
        #expect((interval.orders_accepted, interval.units_sold, interval.units_oversold) == (4, 6, 3))

        #expect(
            report.recommendations == [
                Recommendation(sku: "S", threshold: 2, units_oversold_mirror: 2, units_oversold: 0, units_lost: 0)
            ])
        #expect(mirror.worst_skus.map(\.sku) == ["S"])
        #expect(mirror.timeline.last?.units_oversold == 2)
    }

    @Test func theRecommendedGuardIsPlayedWithTheRecommendedThresholds() async throws {
        let report = try await Self.rehearse(["guard=recommended"])
        let recommended = try #require(report.policies.first)
        #expect(recommended.name == "guard-recommended")
        #expect((recommended.units_sold, recommended.units_oversold, recommended.units_lost) == (3, 0, 0))
    }

    @Test func aSkusOwnThresholdWinsOverThePolicysThreshold() async throws {
        let settings = RehearsalSettings(shops: [Self.a, Self.b], delays: [Self.a: 100, Self.b: 100])
        let policy = RehearsalPolicy(kind: .guarded, threshold: 3, thresholds: ["S": 2])
        let report = await Rehearsal(input: Self.day(), policies: [policy], settings: settings, source: "test").run()
        // As guard-2 in the hand-worked day, not guard-3.
        #expect((report.policies[0].units_sold, report.policies[0].units_oversold, report.policies[0].units_lost) == (3, 0, 0))
    }

    @Test func aLongerDelayOversellsMoreInMirrorMode() async throws {
        var input = Self.day()
        input.events.append(Self.order(5, Self.a, at: 250, 1))
        for (delay, oversold) in [(10 as Int64, 0 as Int64), (100, 2), (300, 3)] {
            let settings = RehearsalSettings(shops: [Self.a, Self.b], delays: [Self.a: delay, Self.b: delay])
            let report = await Rehearsal(
                input: input, policies: [RehearsalPolicy(kind: .mirror)], settings: settings, source: "test"
            ).run()
            #expect(report.policies[0].units_oversold == oversold, "delay \(delay) ms")
        }
    }

    /// A day whose stock comes from a receipt in the events (a product drop's log): the SKU is registered as the
    /// catalog would, so the receipt is applied and the shops sell.
    @Test func stockReceivedDuringTheDaySells() async throws {
        var input = Self.day()
        input.startingStock = [:]
        let receipt = RehearsalEvent(
            atMillis: -1_000,
            event: .movements([StockMovement(movementId: "r-1", sku: "S", kind: .receipt, quantity: 3)]),
            cause: EventCause(messageId: "warehouse/r-1", receivedAtMillis: -1_000), topic: "receipt")
        input.events.insert(receipt, at: 0)
        let settings = RehearsalSettings(shops: [Self.a, Self.b], delays: [Self.a: 100, Self.b: 100])
        let report = await Rehearsal(
            input: input, policies: [RehearsalPolicy(kind: .mirror)], settings: settings, source: "test"
        ).run()
        // The receipt comes before the first order: history, so the window opens with 3 units on every shelf.
        #expect((report.policies[0].units_sold, report.policies[0].units_oversold) == (5, 2))
        #expect(report.input.not_used.isEmpty)
    }

    // MARK: - Input

    static func body(
        _ id: Int64, created: String, updated: String, cancelled: String? = nil, sku: String, _ q: Int64, current: Int64? = nil
    ) -> String {
        let cancelledText = cancelled.map { "\"\($0)\"" } ?? "null"
        let currentText = current.map { ",\"current_quantity\":\($0)" } ?? ""
        return """
            {"id":\(id),"created_at":"\(created)","updated_at":"\(updated)","cancelled_at":\(cancelledText),\
            "line_items":[{"id":\(id * 10),"sku":"\(sku)","quantity":\(q)\(currentText),"variant_id":1,"product_id":2}]}
            """
    }

    @Test func anOrderExportBecomesCheckoutsSpreadOverTheirSecondAndLaterChanges() throws {
        let lines = [
            Self.body(1, created: "2026-11-27T09:00:00-05:00", updated: "2026-11-27T09:00:00-05:00", sku: "S", 1),
            Self.body(
                2, created: "2026-11-27T09:00:00-05:00", updated: "2026-11-27T09:05:00-05:00",
                cancelled: "2026-11-27T09:05:00-05:00", sku: "S", 2),
            Self.body(3, created: "2026-11-27T09:00:01-05:00", updated: "2026-11-27T09:00:01-05:00", sku: "NOPE", 1),
            "{not json",
        ]
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("rehearsal-\(UUID()).jsonl").path
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        var input = RehearsalInput()
        try input.readOrders(path: path, shop: "A.myshopify.com")
        input.sort()
        let nine = ShopifyTimestamp.millis("2026-11-27T09:00:00-05:00")!
        #expect(input.events.map(\.atMillis) == [nine, nine + 500, nine + 1000, nine + 300_000])
        #expect(input.events.map(\.topic) == ["orders/create", "orders/create", "orders/create", "orders/cancelled"])
        guard case .order(let checkout) = input.events[1].event else { Issue.record("not an order"); return }
        #expect(checkout.shop == "a.myshopify.com" && !checkout.cancelled && checkout.lines[0].currentQuantity == 2)
        #expect(input.read == 4)
        #expect(input.notUsed.keys.contains { $0.contains("not a Shopify order body") })

        input.startingStock = ["S": 5]
        Rehearsal.removeUnknownLines(&input, known: Rehearsal.knownSkus(input))
        #expect(input.notUsed.contains { $0.key.contains("SKU the warehouse never had") && $0.value == 1 })
    }

    @Test func anEventLogExportReadsBackAsTheEventsItKept() throws {
        let envelope = EventEnvelope(
            source: .shopify, shop: Self.a, topic: "orders/create", deliveryId: "w-1", receivedAtMillis: 1_234,
            body: Array(Self.body(7, created: "2026-11-27T09:00:00Z", updated: "2026-11-27T09:00:00Z", sku: "S", 2).utf8))
        let product = EventEnvelope(
            source: .shopify, shop: Self.a, topic: "products/update", deliveryId: "w-2", receivedAtMillis: 1_300,
            body: Array(#"{"id":1,"variants":[]}"#.utf8))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("rehearsal-\(UUID()).tsv").path
        let data = try SavedEvent.line(envelope) + SavedEvent.line(product) + Array("garbage\n".utf8)
        try Data(data).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        var input = RehearsalInput()
        try input.readSavedEvents(path: path)
        #expect(input.read == 3)
        #expect(input.events.count == 1)
        #expect(input.events.first?.atMillis == 1_234)
        #expect(input.events.first?.cause.messageId == "\(Self.a)/w-1")
        #expect(input.notUsed.count == 2)
    }

    @Test func badPoliciesAndStockLinesAreRefusedWithTheRule() throws {
        for text in ["guard=0", "guard", "interval=0", "mirror=3", "cheap"] {
            #expect(throws: RehearsalError.self) { try RehearsalPolicy(parsing: text) }
        }
        #expect(try RehearsalPolicy(parsing: "interval=90s").intervalMillis == 90_000)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("stock-\(UUID()).csv").path
        try "sku,on_hand\nS,4\nT,-1\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        var input = RehearsalInput()
        #expect(throws: RehearsalError.self) { try input.readStock(path: path) }
        #expect(input.startingStock == ["S": 4])
    }
}
