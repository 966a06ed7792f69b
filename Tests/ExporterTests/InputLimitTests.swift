import Foundation
import ShopifySimulator
import StockwireTestSupport
import Testing

@testable import exporter

/// Issue #16, item 1: a write sends one quantity per inventory item, and a SKU listed by several variants has
/// several. A backlog of 300 SKUs, 60 on two variants, made a batch of 250 SKUs carry 310 quantities; Shopify
/// refuses such a request whole, the writer sent it again for ever, and one SKU of 301 was synced.
@Suite(.timeLimit(.minutes(2))) struct InputLimitTests {
    @Test func entriesAreSplitByTheirItemsNotTheirCount() {
        let sizes = [2, 2, 1, 3, 1]
        let chunks = ShopWriter.chunks(Array(sizes.indices), maxItems: 4) { sizes[$0] }
        #expect(chunks == [[0, 1], [2, 3], [4]])
        #expect(ShopWriter.chunks([Int](), maxItems: 4) { _ in 1 }.isEmpty)
    }
}

/// The limit through the exporter and a simulated shop.
@Suite(.timeLimit(.minutes(2))) struct InputLimitIntegrationTests {
    @Test func aBacklogOfSkusOnSeveralVariantsIsWrittenInCallsOfAtMost250Items() async throws {
        var tuning = ShopWriter.Tuning()
        tuning.linger = .seconds(1)  // the whole backlog is there when the first batch is taken
        let h = try await ExporterHarness.start(shops: 1, plan: .plus, tuning: tuning)
        let shop = h.shops[0]
        let skus = (0..<300).map { h.sku("s\($0)") }
        for (i, sku) in skus.enumerated() {
            _ = try await h.simulator.createVariant(shop: shop, sku: sku, available: 0)
            if i < 60 { _ = try await h.simulator.createVariant(shop: shop, sku: sku, available: 0) }
        }
        for sku in skus { try await h.publish(sku: sku, available: 7, version: 1) }
        #expect(
            try await eventually(timeout: .seconds(60)) {
                let levels = try await h.simulator.inventoryLevels(shop: shop)
                return levels.count == 360 && levels.allSatisfy { $0.available == 7 }
            }, "every variant of every SKU shows 7")
        let log = await h.simulator.writeLog(shop: shop)
        #expect(!log.contains { $0.result == "MAX_INPUT_SIZE_EXCEEDED" }, "a request over Shopify's limit")
        #expect(log.allSatisfy { ($0.quantities?.count ?? 0) <= 250 })
        await h.stop()
    }
}
