import Contracts
@testable import ExporterCore
import Foundation
import ShopifySimulator
import StockwireTestSupport
import Testing

@testable import exporter

/// Issue #16, item 7: items no written level can protect. An untracked item is never counted down by Shopify; a
/// bundle parent's stock is computed from its components and Shopify refuses writes to it
/// (`NON_MUTABLE_INVENTORY_ITEM`); a `CONTINUE` variant sells beyond its stock. One such item must never fail a batch:
/// each is detected (lookup, catalog message, or the refusal itself), left out or reported, and the rest is written.
@Suite(.timeLimit(.minutes(2))) struct UnprotectableItemTests {
    @Test func catalogMessagesSayWhichItemsAreUntrackedAndTheCatalogLeavesThemOut() {
        var catalog = ShopCatalog()
        let change = catalog.apply(
            CatalogMessage(
                shop: "a.myshopify.com", productId: 1, updatedAtMillis: 100,
                variants: [
                    .init(variantId: 11, sku: "T", inventoryItemId: 111, tracked: true, continueSelling: false),
                    .init(variantId: 12, sku: "U", inventoryItemId: 112, tracked: false),
                    .init(variantId: 13, sku: "C", inventoryItemId: 113, tracked: true, continueSelling: true),
                ]))
        #expect(catalog.items(sku: "T") == ["gid://shopify/InventoryItem/111"])
        #expect(catalog.items(sku: "U") == [], "known, and not written")
        #expect(catalog.unprotectable(sku: "U").map(\.reason) == [.untracked])
        #expect(catalog.items(sku: "C") == ["gid://shopify/InventoryItem/113"], "written, and reported")
        #expect(change.unprotectable == ["U": .untracked])
        #expect(change.sellsBeyondStock == ["C"])
        // The merchant turns tracking on: written again.
        let on = catalog.apply(
            CatalogMessage(
                shop: "a.myshopify.com", productId: 1, updatedAtMillis: 200,
                variants: [
                    .init(variantId: 11, sku: "T", inventoryItemId: 111, tracked: true),
                    .init(variantId: 12, sku: "U", inventoryItemId: 112, tracked: true),
                    .init(variantId: 13, sku: "C", inventoryItemId: 113, tracked: true, continueSelling: true),
                ]))
        #expect(catalog.items(sku: "U") == ["gid://shopify/InventoryItem/112"])
        #expect(on.changed["U"] == ["gid://shopify/InventoryItem/112"], "its last version is written")
        #expect(on.sellsBeyondStock.isEmpty, "reported once")
    }
}

/// The same through the exporter and a simulated shop.
@Suite(.timeLimit(.minutes(2))) struct UnprotectableItemIntegrationTests {
    @Test func aBundleParentRefusingItsWriteIsLeftOutAndTheRestOfTheBatchIsWritten() async throws {
        var tuning = ShopWriter.Tuning()
        tuning.linger = .milliseconds(300)  // the three SKUs go in one batch
        let h = try await ExporterHarness.start(shops: 1, tuning: tuning)
        let shop = h.shops[0]
        let (a, bundle, b) = (h.sku("a"), h.sku("bundle"), h.sku("b"))
        _ = try await h.simulator.createVariant(shop: shop, sku: a, available: 1)
        let parent = try await h.simulator.createVariant(shop: shop, sku: bundle, available: 1)
        _ = try await h.simulator.createVariant(shop: shop, sku: b, available: 1)
        // Known as a plain variant first (looked up and written), then the merchant turns it into a bundle.
        try await h.publish(sku: bundle, available: 4, version: 1)
        #expect(try await eventually { try await h.level(shop, bundle) == 4 })
        try await h.simulator.setTraits(shop: shop, variantId: parent.variantId, VariantTraits(requiresComponents: true))
        for sku in [a, bundle, b] { try await h.publish(sku: sku, available: 6, version: 2) }
        #expect(try await eventually {
                let levels = try await h.simulator.levels(shop: shop)
                return levels[a] == 6 && levels[b] == 6
            }, "the others are written")
        #expect(try await h.level(shop, bundle) == 4, "the bundle parent is not written")
        let refused = await h.writes(shop).filter { $0.result == "NON_MUTABLE_INVENTORY_ITEM" }
        #expect(refused.count == 1, "refused once, then left out")
        // Later versions of it are not sent again, and nothing was dead-lettered.
        try await h.publish(sku: bundle, available: 9, version: 3)
        try await h.publish(sku: a, available: 7, version: 3)
        #expect(try await eventually { try await h.level(shop, a) == 7 })
        #expect(await h.writes(shop).filter { $0.result == "NON_MUTABLE_INVENTORY_ITEM" }.count == 1)
        let dead = try await h.connection.queueInfo(
            StockwireTopology.deadLetterQueue(of: StockwireTopology.exporterQueue(shop: shop))).messages
        #expect(dead == 0)
        #expect(try await eventually { try await h.backlog(shop) == 0 }, "every message settled")
        await h.stop()
    }

    @Test func anUntrackedItemIsNotWrittenAndAContinueSellingOneIsWrittenAndReported() async throws {
        let h = try await ExporterHarness.start(shops: 1)
        let shop = h.shops[0]
        let (untracked, continues, plain) = (h.sku("untracked"), h.sku("continue"), h.sku("plain"))
        let u = try await h.simulator.createVariant(shop: shop, sku: untracked, available: 3)
        let c = try await h.simulator.createVariant(shop: shop, sku: continues, available: 3)
        _ = try await h.simulator.createVariant(shop: shop, sku: plain, available: 3)
        try await h.simulator.setTraits(shop: shop, variantId: u.variantId, VariantTraits(tracked: false))
        try await h.simulator.setTraits(shop: shop, variantId: c.variantId, VariantTraits(continueSelling: true))
        for sku in [untracked, continues, plain] { try await h.publish(sku: sku, available: 8, version: 1) }
        #expect(try await eventually {
                let levels = try await h.simulator.levels(shop: shop)
                return levels[plain] == 8 && levels[continues] == 8
            })
        #expect(try await h.level(shop, untracked) == 3, "Shopify does not track it: nothing written")
        let written = await h.writes(shop).flatMap { $0.quantities ?? [] }.map(\.inventoryItemId)
        #expect(!written.contains(u.inventoryItemGID))
        await h.stop()
    }
}
