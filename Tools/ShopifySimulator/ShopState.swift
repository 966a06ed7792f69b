import Foundation

/// One simulated shop as a pure value: catalogue, inventory levels, orders and idempotency records.
///
/// Every change returns the webhooks it fires; delivery, time and logging live outside (in ``Simulator``).
struct ShopState: Sendable {
    struct Location: Sendable, Equatable {
        var id: Int64
        var name: String
        /// `Location.fulfillsOnlineOrders`: the online store sells its stock.
        var fulfillsOnlineOrders = true
    }

    struct LevelKey: Hashable, Sendable {
        var item: Int64
        var location: Int64
    }

    struct Level: Sendable {
        var available: Int
        var updatedAt: Date
        /// Units of unfulfilled orders routed to this location (Shopify's `committed`): taken from `available` when
        /// the order is placed, given back to it by a restocking cancel or refund, gone from stock when fulfilled.
        /// `on_hand` is `available + committed`
        /// (https://shopify.dev/docs/apps/build/orders-fulfillment/inventory-management-apps#inventory-states).
        var committed = 0
    }

    var configuration: ShopConfiguration
    var locations: [Location]
    /// Variants in creation order.
    var variants: [ProductVariant] = []
    var variantIndexByItem: [Int64: Int] = [:]
    /// Positions in `variants` by lower-cased SKU: a lookup by SKU costs one dictionary read, not a scan of every
    /// variant (50,000 lookups in a 50,000-variant shop scanned 2.5 billion SKUs).
    var variantIndexBySKU: [String: [Int]] = [:]
    /// When each variant was created (by variant id), for the search index's lag.
    var variantCreatedAt: [Int64: Date] = [:]
    /// The location each order line was routed to (by line item id).
    var lineLocations: [Int64: Int64] = [:]
    /// Traits of variants that are not the default (tracked, `DENY`, no bundle), by variant id.
    var variantTraits: [Int64: VariantTraits] = [:]

    func traits(of variant: ProductVariant) -> VariantTraits { variantTraits[variant.variantId] ?? VariantTraits() }
    var levels: [LevelKey: Level] = [:]
    var orders: [Order] = []
    var orderIndex: [Int64: Int] = [:]
    var nextOrderNumber = 1001
    var idempotency = IdempotencyTable()
    /// Every change of a level, oldest first (the newest ``levelHistoryLimit`` are kept).
    var levelHistory: [LevelChange] = []
    static let levelHistoryLimit = 200_000

    init(configuration: ShopConfiguration) {
        self.configuration = configuration
        self.locations = [Location(id: configuration.locationID, name: configuration.locationName)]
    }

    var domain: String { configuration.domain }
    var defaultLocation: Int64 { locations[0].id }

    func rest(_ date: Date) -> String { Timestamp.rest(date, utcOffsetMinutes: configuration.utcOffsetMinutes) }

    // MARK: - Catalogue

    mutating func createVariant(
        sku: String, available: Int, locationID: Int64?, title: String?, ids: inout IDSequences, now: Date
    ) throws -> ProductVariant {
        let location = locationID ?? defaultLocation
        guard locations.contains(where: { $0.id == location }) else {
            throw SimulatorError(.invalidRequest, "shop \(domain) has no location \(location); known: \(locations.map(\.id))")
        }
        let variant = ProductVariant(
            productId: IDSequences.take(&ids.product), variantId: IDSequences.take(&ids.variant),
            inventoryItemId: IDSequences.take(&ids.inventoryItem), sku: sku, locationId: location,
            title: title ?? "Product \(sku)")
        variantIndexByItem[variant.inventoryItemId] = variants.count
        variantIndexBySKU[sku.lowercased(), default: []].append(variants.count)
        variants.append(variant)
        variantCreatedAt[variant.variantId] = now
        levels[LevelKey(item: variant.inventoryItemId, location: location)] = Level(available: available, updatedAt: now)
        return variant
    }

    /// The `products/create` webhook Shopify sends for a new product (one variant here).
    func productCreatedWebhook(_ variant: ProductVariant) -> OutgoingWebhook { productWebhook(variant, topic: "products/create") }

    /// A `products/create|update` webhook of the variant's product, with the REST variant's `inventory_management`
    /// (`"shopify"`, or null when untracked) and `inventory_policy` (`deny` / `continue`).
    func productWebhook(_ variant: ProductVariant, topic: String) -> OutgoingWebhook {
        let traits = traits(of: variant)
        let body: JSONValue = [
            "id": .int(variant.productId),
            "title": .string(variant.title),
            "admin_graphql_api_id": .string("gid://shopify/Product/\(variant.productId)"),
            "variants": .array([
                [
                    "id": .int(variant.variantId), "product_id": .int(variant.productId), "sku": .string(variant.sku),
                    "inventory_item_id": .int(variant.inventoryItemId),
                    "admin_graphql_api_id": .string(variant.variantGID),
                    "inventory_management": traits.tracked ? "shopify" : .null,
                    "inventory_policy": .string(traits.continueSelling ? "continue" : "deny"),
                ]
            ]),
            "has_variants_that_requires_components": .bool(traits.requiresComponents),
        ]
        return OutgoingWebhook(topic: topic, body: body.bytes)
    }

    mutating func addLocation(name: String, id: Int64, fulfillsOnlineOrders: Bool = true) -> Location {
        let location = Location(id: id, name: name, fulfillsOnlineOrders: fulfillsOnlineOrders)
        locations.append(location)
        return location
    }

    func variant(forItem item: Int64) -> ProductVariant? { variantIndexByItem[item].map { variants[$0] } }

    func variants(withSKU sku: String) -> [ProductVariant] {
        (variantIndexBySKU[sku.lowercased()] ?? []).map { variants[$0] }.filter { $0.sku == sku }
    }

    /// The location an item is sold from: the first of the shop's locations that stocks it.
    func sellingLocation(of item: Int64) -> Int64? {
        locations.first { levels[LevelKey(item: item, location: $0.id)] != nil }?.id
    }

    /// Where Shopify's order routing sends a line of `quantity` units of `item`: the first location, in the shop's
    /// ranking (the order locations were added), that fulfils online orders, stocks the item and has the units
    /// available (Shopify's default rule, "ranked locations": https://help.shopify.com/en/manual/fulfillment/order-routing);
    /// an item sold beyond its stock needs only to be stocked there. When no such location has the units, the first
    /// stocking location (the checkout then refuses for stock).
    func routedLocation(of item: Int64, quantity: Int, beyondStock: Bool) -> Int64? {
        locations.first { location in
            guard location.fulfillsOnlineOrders, let level = levels[LevelKey(item: item, location: location.id)] else { return false }
            return beyondStock || level.available >= quantity
        }?.id ?? sellingLocation(of: item)
    }

    /// Moves `units` into (positive) or out of (negative) a level's `committed`.
    mutating func commit(_ key: LevelKey, _ units: Int) {
        guard levels[key] != nil else { return }
        levels[key]!.committed = max(0, levels[key]!.committed + units)
    }

    func levelSnapshots() -> [InventoryLevel] {
        var result: [InventoryLevel] = []
        for variant in variants {
            for location in locations {
                if let level = levels[LevelKey(item: variant.inventoryItemId, location: location.id)] {
                    result.append(
                        InventoryLevel(
                            inventoryItemId: variant.inventoryItemId, variantId: variant.variantId, sku: variant.sku,
                            locationId: location.id, available: level.available, committed: level.committed,
                            updatedAt: rest(level.updatedAt)))
                }
            }
        }
        return result
    }

    /// `available` per SKU; when several items share a SKU, the first-created one's value.
    func levelsBySKU() -> [String: Int] {
        var result: [String: Int] = [:]
        for snapshot in levelSnapshots() where result[snapshot.sku] == nil {
            result[snapshot.sku] = snapshot.available
        }
        return result
    }

    // MARK: - Level changes

    /// Sets a level and returns its `inventory_levels/update` webhook (nil when the value did not change).
    /// `cause` says why, for the level history.
    mutating func setLevel(_ key: LevelKey, to available: Int, now: Date, cause: String) -> OutgoingWebhook? {
        let before = levels[key]?.available
        levels[key] = Level(available: available, updatedAt: now, committed: levels[key]?.committed ?? 0)
        guard before != available else { return nil }
        if levelHistory.count >= Self.levelHistoryLimit { levelHistory.removeFirst(Self.levelHistoryLimit / 2) }
        levelHistory.append(
            LevelChange(
                time: Timestamp.precise(now), inventoryItemId: key.item, locationId: key.location, before: before ?? 0,
                after: available, cause: cause))
        return levelWebhook(key)
    }

    func levelWebhook(_ key: LevelKey) -> OutgoingWebhook? {
        guard let level = levels[key] else { return nil }
        let body: JSONValue = [
            "inventory_item_id": .int(key.item),
            "location_id": .int(key.location),
            "available": .int(Int64(level.available)),
            "updated_at": .string(rest(level.updatedAt)),
            "admin_graphql_api_id": .string("gid://shopify/InventoryLevel/\(key.location)?inventory_item_id=\(key.item)"),
        ]
        return OutgoingWebhook(topic: "inventory_levels/update", body: body.bytes)
    }

    /// A merchant edit in the admin: sets `available` of an item outright.
    mutating func setAvailable(item: Int64, location requested: Int64? = nil, available: Int, now: Date) throws -> [OutgoingWebhook] {
        guard variant(forItem: item) != nil, let location = requested ?? sellingLocation(of: item) else {
            throw SimulatorError(.unknownInventoryItem, "shop \(domain) has no inventory item \(item)")
        }
        guard locations.contains(where: { $0.id == location }) else {
            throw SimulatorError(.invalidRequest, "shop \(domain) has no location \(location)")
        }
        return [setLevel(LevelKey(item: item, location: location), to: available, now: now, cause: "admin edit")].compactMap { $0 }
    }
}

/// Idempotency keys of `inventorySetQuantities`, per shop: in flight, answered (replayed on reuse), or failed.
struct IdempotencyTable: Sendable {
    enum Entry: Sendable {
        case inFlight(fingerprint: JSONValue)
        case answered(fingerprint: JSONValue, response: JSONValue)
        case failed(fingerprint: JSONValue)
    }

    enum Admission: Sendable, Equatable {
        /// New key (now in flight): execute.
        case execute
        /// Same key and input answered before: send this response again.
        case replay(JSONValue)
        /// A userError code: `IDEMPOTENCY_CONCURRENT_REQUEST`, `IDEMPOTENCY_KEY_PARAMETER_MISMATCH`,
        /// `IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED`.
        case reject(code: String, message: String)
    }

    /// Keys kept; the oldest are forgotten past this (Shopify keeps them for a limited time too).
    static let capacity = 100_000

    private(set) var entries: [String: Entry] = [:]
    private var order: [String] = []

    mutating func admit(key: String, fingerprint: JSONValue) -> Admission {
        switch entries[key] {
        case nil:
            entries[key] = .inFlight(fingerprint: fingerprint)
            order.append(key)
            if order.count > Self.capacity {
                let excess = order.count - Self.capacity / 2
                for old in order.prefix(excess) { entries[old] = nil }
                order.removeFirst(excess)
            }
            return .execute
        case .inFlight(let previous)?:
            if previous != fingerprint { return Self.mismatch }
            return .reject(code: "IDEMPOTENCY_CONCURRENT_REQUEST", message: "This request is currently in progress, please try again.")
        case .answered(let previous, let response)?:
            if previous != fingerprint { return Self.mismatch }
            return .replay(response)
        case .failed(let previous)?:
            if previous != fingerprint { return Self.mismatch }
            return .reject(
                code: "IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED",
                message: "A previous request with this idempotency key failed. Retry with a new idempotency key.")
        }
    }

    private static let mismatch = Admission.reject(
        code: "IDEMPOTENCY_KEY_PARAMETER_MISMATCH",
        message: "The same idempotency key cannot be used with different operation parameters.")

    /// The in-flight request was answered with `response`.
    /// Keys whose request is admitted and still running.
    var keysInFlight: [String] {
        entries.compactMap { key, entry in
            if case .inFlight = entry { return key }
            return nil
        }.sorted()
    }

    mutating func answer(key: String, response: JSONValue) {
        guard case .inFlight(let fingerprint)? = entries[key] else { return }
        entries[key] = .answered(fingerprint: fingerprint, response: response)
    }

    /// The in-flight request ended without running (5xx, throttled): the key may be used again.
    mutating func release(key: String) {
        guard case .inFlight? = entries[key] else { return }
        entries[key] = nil
        order.removeAll { $0 == key }
    }

    /// The in-flight request was abandoned (held past the hang limit): later uses of the key fail.
    mutating func fail(key: String) {
        guard case .inFlight(let fingerprint)? = entries[key] else { return }
        entries[key] = .failed(fingerprint: fingerprint)
    }
}

/// One change of an inventory level and its cause (`GET /_control/shops/<domain>/level-history`).
public struct LevelChange: Sendable, Codable, Equatable {
    /// When (UTC, milliseconds).
    public var time: String
    public var inventoryItemId: Int64
    public var locationId: Int64
    public var before: Int
    public var after: Int
    /// `order <id> placed`, `order <id> cancelled`, `order <id> edited`, `order <id> refunded`,
    /// `inventorySetQuantities <idempotency key>`, or `admin edit`.
    public var cause: String
}
