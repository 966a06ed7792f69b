@testable import ExporterCore
import Foundation
import ShopifySimulator
import StockwireTestSupport
import Testing

@testable import exporter

/// Issue #16, item 5: the exporter guessed 3 points for a variant lookup and 2 + n/10 for a level read of n items,
/// where Shopify charges by its own rules (22, and about 3n), and a query over 1,000 points is refused whole.
@Suite(.timeLimit(.minutes(2))) struct QueryCostTests {
    @Test func startingEstimatesFollowShopifysRulesAndEveryAnswerCorrectsThem() {
        var costs = QueryCosts()
        #expect(costs.estimate(.write) == 10)
        #expect(costs.estimate(.variants) == 22)
        #expect(costs.estimate(.locations) == 52)
        #expect(costs.estimate(.levels, items: 250) == 750)
        #expect(costs.levelItemsPerQuery(limit: 250) == 250)
        // Shopify answered a read of 100 ids as 600 requested points: 6 a id from now on.
        costs.learn(.levels, items: 100, requested: 600)
        #expect(costs.estimate(.levels, items: 250) == 1_500)
        #expect(costs.levelItemsPerQuery(limit: 250) == 166, "a read stays under Shopify's 1,000-point maximum")
        costs.learn(.variants, requested: 30)
        #expect(costs.estimate(.variants) == 30)
        // Nonsense is not learned.
        costs.learn(.write, requested: 0)
        costs.learn(.write, requested: .nan)
        #expect(costs.estimate(.write) == 10)
        // Even a very costly item is read, one at a time.
        costs.learn(.levels, items: 1, requested: 5_000)
        #expect(costs.levelItemsPerQuery(limit: 250) == 1)
    }
}

/// Issue #16, item 9: Shopify's variant search lags product creation. A SKU looked up before the index has it was
/// cached as "not listed" and never written until a catalog message or the SKU's next change.
@Suite(.timeLimit(.minutes(2))) struct SearchLagIntegrationTests {
    @Test func aSkuTheSearchDidNotFindYetIsLookedUpAgainAndWrittenWithoutAnotherChange() async throws {
        var tuning = ShopWriter.Tuning()
        tuning.recheckAfter = [.milliseconds(500), .milliseconds(500), .seconds(2)]
        let h = try await ExporterHarness.start(shops: 1, tuning: tuning)
        let shop = h.shops[0]
        // Shopify's search has not indexed the new product yet when the first change comes in.
        try await h.simulator.setFaults(ShopFaults(searchLagMs: 600_000), shop: shop)
        let sku = h.sku("fresh")
        _ = try await h.simulator.createVariant(shop: shop, sku: sku, available: 0)
        try await h.publish(sku: sku, available: 9, version: 1)
        #expect(try await eventually { await h.calls(shop, "productVariants").count >= 1 }, "looked up, and missed")
        #expect(try await h.level(shop, sku) == 0)
        // The index catches up.
        try await h.simulator.setFaults(ShopFaults(), shop: shop)
        #expect(
            try await eventually(timeout: .seconds(20)) { try await h.level(shop, sku) == 9 },
            "written once Shopify's search finds it, with no new change of the SKU")
        let lookups = await h.simulator.writeLog(shop: shop).filter { $0.operation == "productVariants" }
        #expect(lookups.count >= 2, "the first lookup missed it and a later one found it")
        #expect(lookups.count <= 4, "rechecks back off: \(lookups.count) lookups")
        await h.stop()
    }
}

/// What a simulated shop charges, learned by the exporter.
@Suite(.timeLimit(.minutes(2))) struct QueryCostIntegrationTests {
    @Test func aLevelReadOverTheCostMaximumIsReadInPartsAndTheCostPerItemIsLearned() async throws {
        let h = try await ExporterHarness.start(shops: 1, plan: .plus)
        let shop = h.shops[0]
        // Shopify charges twice what its rules give today: a read of 250 ids costs 1,500 points.
        let skus = (0..<400).map { h.sku("c\($0)") }
        for sku in skus { _ = try await h.simulator.createVariant(shop: shop, sku: sku, available: 1) }
        // The shop hangs while the changes come in, so that they wait as one backlog: the exporter has to read more
        // ids than one query may cost.
        try await h.simulator.setFaults(ShopFaults(hang: true, costScale: 2), shop: shop)
        for sku in skus { try await h.publish(sku: sku, available: 5, version: 1) }
        try await h.simulator.setFaults(ShopFaults(costScale: 2), shop: shop)
        #expect(
            try await eventually(timeout: .seconds(60)) {
                let levels = try await h.simulator.inventoryLevels(shop: shop)
                return levels.count == 400 && levels.allSatisfy { $0.available == 5 }
            }, "every SKU shows 5")
        let reads = await h.simulator.writeLog(shop: shop).filter { $0.operation == "nodes" }
        let refused = reads.filter { $0.result == "MAX_COST_EXCEEDED" }
        #expect(refused.count <= 1, "one refusal at most teaches the cost: \(reads.map { "\($0.result) \($0.requestedCost)" })")
        #expect(reads.filter { $0.result == "ok" }.allSatisfy { $0.requestedCost <= 1_000 })
        #expect(reads.filter { $0.result == "ok" }.map(\.requestedCost).reduce(0, +) >= 400 * 6, "every id was read")
        await h.stop()
    }
}
