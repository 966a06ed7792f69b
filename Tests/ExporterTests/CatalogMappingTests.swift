import Contracts
import Foundation
import ShopifySimulator
import StockwireTestSupport
import Testing

@testable import exporter

/// SKU → inventory item mapping from the calculator's catalog messages (issue 5), through the real broker.
@Suite struct CatalogMappingIntegrationTests {
    @Test func catalogMessagesMapSKUsWithoutAskingShopifyAndANewVariantGetsTheCurrentValue() async throws {
        let h = try await ExporterHarness.start(shops: 1)
        defer { Task { await h.stop() } }
        let shop = h.shops[0]
        let sku = h.sku("catalog")
        let first = try await h.simulator.createVariant(shop: shop, sku: sku, available: 50)
        try await h.publishCatalog(
            shop: shop, productId: first.productId, updatedAtMillis: 1_000,
            variants: [.init(variantId: first.variantId, sku: sku, inventoryItemId: first.inventoryItemId)])
        try await h.publish(sku: sku, available: 17, version: 1)
        #expect(try await eventually { try await h.level(shop, sku) == 17 })
        var lookups = await h.calls(shop, "productVariants")
        #expect(lookups.isEmpty, "the catalog message told the exporter the item")

        // The merchant adds a second product listing the same SKU: it gets the SKU's value without a new change.
        let second = try await h.simulator.createVariant(shop: shop, sku: sku, available: 3)
        try await h.publishCatalog(
            shop: shop, productId: second.productId, updatedAtMillis: 2_000,
            variants: [.init(variantId: second.variantId, sku: sku, inventoryItemId: second.inventoryItemId)])
        let bothWritten = try await eventually {
            let levels = try await h.simulator.inventoryLevels(shop: shop).filter { $0.sku == sku }
            return levels.count == 2 && levels.allSatisfy { $0.available == 17 }
        }
        #expect(bothWritten, "the new variant's item holds the SKU's current value")
        try await h.publish(sku: sku, available: 12, version: 2)
        #expect(
            try await eventually {
                try await h.simulator.inventoryLevels(shop: shop).filter { $0.sku == sku }.map(\.available) == [12, 12]
            })
        lookups = await h.calls(shop, "productVariants")
        #expect(lookups.isEmpty)
    }

    @Test func aSKUNoCatalogMessageNamedIsLookedUpOnceAndAnUnlistedOneIsSkipped() async throws {
        let h = try await ExporterHarness.start(shops: 1)
        defer { Task { await h.stop() } }
        let shop = h.shops[0]
        let sku = h.sku("legacy")
        _ = try await h.simulator.createVariant(shop: shop, sku: sku, available: 50)
        try await h.publish(sku: sku, available: 40, version: 1)
        #expect(try await eventually { try await h.level(shop, sku) == 40 })
        try await h.publish(sku: sku, available: 39, version: 2)
        #expect(try await eventually { try await h.level(shop, sku) == 39 })
        try await h.publish(sku: h.sku("not-listed"), available: 5, version: 1)
        #expect(
            try await eventually {
                let lookups = await h.calls(shop, "productVariants").count
                return try await h.backlog(shop) == 0 && lookups == 2
            })
        let lookups = await h.calls(shop, "productVariants").count
        #expect(lookups == 2, "one lookup per SKU, kept for later writes")
        let writes = await h.writes(shop)
        #expect(writes.allSatisfy { $0.quantities?.count == 1 }, "the unlisted SKU is never written")
    }
}
