import Contracts
@testable import ExporterCore
import Testing

@testable import exporter

@Suite struct ShopCatalogTests {
    private func product(_ id: Int64, at millis: Int64? = nil, _ variants: [(Int64, String?, Int64?)]) -> CatalogMessage {
        CatalogMessage(
            shop: "a.myshopify.com", productId: id, updatedAtMillis: millis,
            variants: variants.map { CatalogMessage.Variant(variantId: $0.0, sku: $0.1, inventoryItemId: $0.2) })
    }

    private func item(_ id: Int64) -> String { "gid://shopify/InventoryItem/\(id)" }

    @Test func aCatalogMessageMapsEachSKUToItsInventoryItem() {
        var catalog = ShopCatalog()
        #expect(catalog.items(sku: "TEE-S") == nil, "unknown before: look it up")
        let change = catalog.apply(product(1, at: 100, [(11, "TEE-S", 111), (12, "TEE-M", 112), (13, nil, 113), (14, "", 114)]))
        #expect(catalog.items(sku: "TEE-S") == [item(111)])
        #expect(catalog.items(sku: "TEE-M") == [item(112)])
        #expect(change.changed == ["TEE-S": [item(111)], "TEE-M": [item(112)]], "variants without a SKU are not mapped")
        #expect(catalog.isFromCatalog("TEE-S"))
    }

    @Test func aNewerSnapshotReplacesTheProductAndAnOlderOneIsIgnored() {
        var catalog = ShopCatalog()
        _ = catalog.apply(product(1, at: 100, [(11, "TEE-S", 111), (12, "TEE-M", 112)]))
        // The merchant renamed TEE-M to TEE-L and deleted TEE-S.
        let change = catalog.apply(product(1, at: 200, [(12, "TEE-L", 112)]))
        #expect(catalog.items(sku: "TEE-L") == [item(112)])
        #expect(catalog.items(sku: "TEE-M") == nil, "gone from the catalog: looked up again if it is ever written")
        #expect(catalog.items(sku: "TEE-S") == nil)
        #expect(change.changed == ["TEE-L": [item(112)], "TEE-M": [], "TEE-S": []])
        // The snapshot of 100 arrives late.
        let late = catalog.apply(product(1, at: 100, [(11, "TEE-S", 111), (12, "TEE-M", 112)]))
        #expect(late.ignoredAsOlder)
        #expect(catalog.items(sku: "TEE-L") == [item(112)])
        #expect(catalog.items(sku: "TEE-S") == nil)
    }

    @Test func oneSKUOnSeveralProductsMapsToAllOfThemAndIsReported() {
        var catalog = ShopCatalog()
        _ = catalog.apply(product(1, [(11, "MUG", 111)]))
        let change = catalog.apply(product(2, [(21, "MUG", 211)]))
        #expect(catalog.items(sku: "MUG") == [item(111), item(211)])
        #expect(change.changed == ["MUG": [item(111), item(211)]])
        #expect(change.shared == ["MUG": ["gid://shopify/ProductVariant/11", "gid://shopify/ProductVariant/21"]])
        // Product 2 drops the SKU: product 1 still lists it.
        let dropped = catalog.apply(product(2, [(21, "MUG-2", 211)]))
        #expect(catalog.items(sku: "MUG") == [item(111)])
        #expect(dropped.shared.isEmpty)
    }

    @Test func aLookupIsKeptUntilACatalogMessageNamesTheSKU() {
        var catalog = ShopCatalog()
        catalog.recordLookup(sku: "CAP", items: [])
        #expect(catalog.items(sku: "CAP") == [], "not listed, and known to be not listed")
        catalog.recordLookup(sku: "HAT", items: [item(5)])
        let change = catalog.apply(product(3, [(31, "CAP", 311)]))
        #expect(catalog.items(sku: "CAP") == [item(311)], "the catalog wins over an earlier lookup")
        #expect(change.changed == ["CAP": [item(311)]])
        catalog.recordLookup(sku: "CAP", items: [item(999)])
        #expect(catalog.items(sku: "CAP") == [item(311)], "a lookup answering late does not replace the catalog")
        catalog.forget(sku: "CAP")
        catalog.forget(sku: "HAT")
        #expect(catalog.items(sku: "CAP") == nil && catalog.items(sku: "HAT") == nil)
    }

    /// Issue #16, item 9: Shopify's variant search lags product creation, so a lookup right after a product was
    /// created misses it; it is looked up again after 30 s, 5 min and 1 h, then left to the catalog messages.
    @Test func aSkuALookupMissedIsLookedUpAgainWithBackoffThenLeftToTheCatalog() {
        var catalog = ShopCatalog()
        let t0 = ContinuousClock.now
        #expect(catalog.recordLookup(sku: "NEW", items: [], now: t0) == 0)
        #expect(catalog.items(sku: "NEW", now: t0 + .seconds(29)) == [], "not listed, for now")
        #expect(catalog.rechecksDue(now: t0 + .seconds(29), limit: 10).isEmpty)
        #expect(catalog.items(sku: "NEW", now: t0 + .seconds(30)) == nil, "due to be looked up again")
        #expect(catalog.rechecksDue(now: t0 + .seconds(30), limit: 10) == ["NEW"])
        #expect(catalog.rechecksDue(now: t0 + .seconds(31), limit: 10).isEmpty, "handed out once until its lookup is back")
        // Missed again: the next look is 5 minutes later, then an hour; after the third miss, no more.
        let t1 = t0 + .seconds(31)
        #expect(catalog.recordLookup(sku: "NEW", items: [], now: t1) == 1)
        #expect(catalog.items(sku: "NEW", now: t1 + .seconds(299)) == [])
        #expect(catalog.items(sku: "NEW", now: t1 + .seconds(300)) == nil)
        let t2 = t1 + .seconds(300)
        #expect(catalog.recordLookup(sku: "NEW", items: [], now: t2) == 2)
        #expect(catalog.items(sku: "NEW", now: t2 + .seconds(3600)) == nil)
        let t3 = t2 + .seconds(3600)
        #expect(catalog.recordLookup(sku: "NEW", items: [], now: t3) == 3)
        #expect(catalog.items(sku: "NEW", now: t3 + .seconds(86_400)) == [], "left to the catalog messages")
        #expect(catalog.rechecksDue(now: t3 + .seconds(86_400), limit: 10).isEmpty)
        // A catalog message names it at last.
        _ = catalog.apply(product(7, [(71, "NEW", 711)]))
        #expect(catalog.items(sku: "NEW", now: t3 + .seconds(86_400)) == [item(711)])
    }

    @Test func aSkuFoundOnALaterLookupIsKeptAndNotLookedUpAgain() {
        var catalog = ShopCatalog(recheckAfter: [.seconds(1)])
        let t0 = ContinuousClock.now
        catalog.recordLookup(sku: "NEW", items: [], now: t0)
        #expect(catalog.rechecksDue(now: t0 + .seconds(1), limit: 10) == ["NEW"])
        #expect(catalog.recordLookup(sku: "NEW", items: [item(8)], now: t0 + .seconds(1)) == 1, "found after one miss")
        #expect(catalog.items(sku: "NEW", now: t0 + .seconds(1_000)) == [item(8)])
        #expect(catalog.rechecksDue(now: t0 + .seconds(1_000), limit: 10).isEmpty)
        // The limit bounds one round.
        for i in 0..<5 { catalog.recordLookup(sku: "S\(i)", items: [], now: t0) }
        #expect(catalog.rechecksDue(now: t0 + .seconds(2), limit: 3).count == 3)
        #expect(catalog.rechecksDue(now: t0 + .seconds(2), limit: 3).count == 2)
    }
}
