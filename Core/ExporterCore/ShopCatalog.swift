import Contracts

/// What one shop lists: SKU → the inventory items Stockwire writes for it.
///
/// The calculator's catalog messages (one per `products/create|update`, carrying every variant of the product)
/// are the primary source, so a write needs no lookup at Shopify. A SKU no catalog message has named yet — a
/// product last changed before Stockwire was installed, or an exporter that restarted — is looked up once by
/// SKU and the answer kept, until a catalog message names that SKU.
///
/// A lookup that finds nothing is not the last word: Shopify's variant search is an index, updated some time after
/// a product is created (https://shopify.dev/docs/api/usage/search-syntax; the delay is not documented, apps report
/// seconds), so a SKU looked up right after its product was created is not found. Such a SKU is looked up again
/// after ``recheckAfter`` (30 s, 5 min, 1 h), then left to the catalog messages, which name it as soon as the
/// product's webhook arrives.
package struct ShopCatalog {
    /// A variant as the catalog knows it.
    package struct Listing: Equatable {
        package var variantId: String
        package var inventoryItemId: String

        /// Memberwise (explicit: the type is used outside its module).
        package init(variantId: String, inventoryItemId: String) {
            self.variantId = variantId
            self.inventoryItemId = inventoryItemId
        }
    }

    /// What applying a catalog message changed.
    package struct Change: Equatable {
        /// The message was older than what is known of its product and changed nothing.
        package var ignoredAsOlder = false
        /// SKUs whose items changed, with the items they map to now.
        package var changed: [String: [String]] = [:]
        /// SKUs listed by several variants now (all of them are written), with those variants.
        package var shared: [String: [String]] = [:]
        /// SKUs with an item that no written level protects from now on, with why.
        package var unprotectable: [String: Unprotectable] = [:]
        /// SKUs with an item that Shopify now sells beyond its stock.
        package var sellsBeyondStock: [String] = []

        /// Memberwise (explicit: the type is used outside its module).
        package init(
            ignoredAsOlder: Bool = false, changed: [String: [String]] = [:], shared: [String: [String]] = [:],
            unprotectable: [String: Unprotectable] = [:], sellsBeyondStock: [String] = []
        ) {
            self.ignoredAsOlder = ignoredAsOlder
            self.changed = changed
            self.shared = shared
            self.unprotectable = unprotectable
            self.sellsBeyondStock = sellsBeyondStock
        }
    }

    private struct Product {
        package var updatedAtMillis: Int64?
        package var listings: [(sku: String, listing: Listing)]
    }

    private var products: [Int64: Product] = [:]
    /// SKU → listings, derived from `products`.
    private var listed: [String: [Listing]] = [:]
    /// SKU → inventory items found by a lookup, for SKUs no catalog message named.
    private var lookedUp: [String: [String]] = [:]
    /// SKUs a lookup did not find: how many lookups missed, and when to look again (nil: no more).
    private var missed: [String: (lookups: Int, recheckAt: ContinuousClock.Instant?)] = [:]
    /// SKUs handed out by ``rechecksDue(now:limit:)`` whose lookup has not come back yet.
    private var recheckQueued: Set<String> = []
    /// Inventory items no written level can protect, with why: Shopify does not track them (`untracked`: it never
    /// counts them down), or they are bundle parents (`bundle`: Shopify computes their stock from the components and
    /// refuses writes with `NON_MUTABLE_INVENTORY_ITEM`). They are left out of ``items(sku:now:)``, so one of them
    /// never fails a batch.
    package private(set) var unwritable: [String: Unprotectable] = [:]
    /// Items Shopify sells beyond their stock (`inventoryPolicy` `CONTINUE`): written, but the level protects nothing.
    package private(set) var sellsBeyondStock: Set<String> = []

    /// Why an inventory item is not written.
    package enum Unprotectable: String, Sendable, Equatable {
        case untracked
        case bundle
    }

    /// When a SKU that a lookup did not find is looked up again, after the first miss, the second, …
    package let recheckAfter: [Duration]
    package static let defaultRecheckAfter: [Duration] = [.seconds(30), .seconds(300), .seconds(3600)]

    package init(recheckAfter: [Duration] = Self.defaultRecheckAfter) { self.recheckAfter = recheckAfter }

    /// The items of `sku`: [] when the shop does not list it, nil when unknown or due to be looked up again.
    package func items(sku: String, now: ContinuousClock.Instant = .now) -> [String]? {
        if let listings = listed[sku] { return listings.map(\.inventoryItemId).filter { unwritable[$0] == nil } }
        if let due = missed[sku]?.recheckAt, due <= now { return nil }
        return lookedUp[sku]?.filter { unwritable[$0] == nil }
    }

    /// The SKU's items that are not written, with why.
    package func unprotectable(sku: String) -> [(item: String, reason: Unprotectable)] {
        let all = listed[sku]?.map(\.inventoryItemId) ?? lookedUp[sku] ?? []
        return all.compactMap { item in unwritable[item].map { (item, $0) } }
    }

    /// Records what Shopify says of an item (nil: not said, the earlier word stands). Returns the reason when the
    /// item just became one no level protects, or `sellsBeyondStock` just became true, so that it is reported once.
    @discardableResult
    package mutating func note(item: String, tracked: Bool?, continueSelling: Bool?, bundle: Bool?) -> (
        unprotectable: Unprotectable?, continueSelling: Bool
    ) {
        let before = unwritable[item]
        if bundle == true {
            unwritable[item] = .bundle
        } else if tracked == false {
            unwritable[item] = .untracked
        } else if (bundle == false && before == .bundle) || (tracked == true && before == .untracked) {
            unwritable[item] = nil
        }
        var newlyContinue = false
        if let continueSelling {
            newlyContinue = continueSelling && sellsBeyondStock.insert(item).inserted
            if !continueSelling { sellsBeyondStock.remove(item) }
        }
        let now = unwritable[item]
        return (now != before ? now : nil, newlyContinue)
    }

    /// Up to `limit` SKUs not found before whose next lookup is due; each is handed out once until its lookup is
    /// recorded.
    package mutating func rechecksDue(now: ContinuousClock.Instant, limit: Int) -> [String] {
        var out: [String] = []
        for (sku, miss) in missed where out.count < limit && !recheckQueued.contains(sku) {
            if let due = miss.recheckAt, due <= now { out.append(sku) }
        }
        recheckQueued.formUnion(out)
        return out.sorted()
    }

    /// Whether `sku`'s mapping came from catalog messages.
    package func isFromCatalog(_ sku: String) -> Bool { listed[sku] != nil }

    /// SKUs known, from either source.
    package var count: Int { Set(listed.keys).union(lookedUp.keys).count }

    /// Replaces what is known of the message's product. An older snapshot of a product than one applied
    /// before is ignored (webhooks arrive out of order).
    package mutating func apply(_ message: CatalogMessage) -> Change {
        var change = Change()
        let previous = products[message.productId]
        if let known = previous?.updatedAtMillis, let incoming = message.updatedAtMillis, incoming < known {
            change.ignoredAsOlder = true
            return change
        }
        let listings = message.variants.compactMap { v -> (sku: String, listing: Listing)? in
            guard let sku = v.sku, !sku.isEmpty, let item = v.inventoryItemId else { return nil }
            return (
                sku,
                Listing(
                    variantId: "gid://shopify/ProductVariant/\(v.variantId)",
                    inventoryItemId: "gid://shopify/InventoryItem/\(item)")
            )
        }
        let affected = Set((previous?.listings ?? []).map(\.sku)).union(listings.map(\.sku))
        let before = Dictionary(uniqueKeysWithValues: affected.map { ($0, items(sku: $0)) })
        for v in message.variants {
            guard let item = v.inventoryItemId else { continue }
            let gid = "gid://shopify/InventoryItem/\(item)"
            let (reason, continueSelling) = note(item: gid, tracked: v.tracked, continueSelling: v.continueSelling, bundle: nil)
            if let reason, let sku = v.sku { change.unprotectable[sku] = reason }
            if continueSelling, let sku = v.sku { change.sellsBeyondStock.append(sku) }
        }
        for (sku, listing) in previous?.listings ?? [] {
            listed[sku]?.removeAll { $0 == listing }
            if listed[sku]?.isEmpty == true { listed[sku] = nil }
        }
        for (sku, listing) in listings {
            listed[sku, default: []].append(listing)
            lookedUp[sku] = nil
            missed[sku] = nil
            recheckQueued.remove(sku)
        }
        products[message.productId] = Product(
            updatedAtMillis: message.updatedAtMillis ?? previous?.updatedAtMillis, listings: listings)
        for sku in affected.sorted() {
            if listed[sku] == nil {
                // No catalog entry names it any more: whatever a lookup said before is no longer trusted.
                lookedUp[sku] = nil
            }
            let now = items(sku: sku)
            if now != before[sku] ?? nil { change.changed[sku] = now ?? [] }
            if let listings = listed[sku], listings.count > 1 { change.shared[sku] = listings.map(\.variantId) }
        }
        return change
    }

    /// Keeps what a lookup by SKU found (ignored when a catalog message already named the SKU). Returns how many
    /// lookups had missed it before (0: the first lookup, or it had been found).
    @discardableResult
    package mutating func recordLookup(sku: String, items: [String], now: ContinuousClock.Instant = .now) -> Int {
        recheckQueued.remove(sku)
        guard listed[sku] == nil else { return 0 }
        lookedUp[sku] = items
        let missedBefore = missed[sku]?.lookups ?? 0
        if items.isEmpty {
            let n = missedBefore + 1
            missed[sku] = (n, n <= recheckAfter.count ? now + recheckAfter[n - 1] : nil)
        } else {
            missed[sku] = nil
        }
        return missedBefore
    }

    /// Forgets a SKU after Shopify refused a write of its items (a variant deleted since, say): the next write
    /// looks it up again and Shopify's answer is what counts.
    package mutating func forget(sku: String) {
        listed[sku] = nil
        lookedUp[sku] = nil
        missed[sku] = nil
        recheckQueued.remove(sku)
    }
}
