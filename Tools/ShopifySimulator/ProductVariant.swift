/// A product variant with its inventory item, as the control API creates it.
public struct ProductVariant: Sendable, Codable, Equatable {
    /// Product id (one product per variant in the simulator).
    public var productId: Int64
    /// Variant id; GraphQL `gid://shopify/ProductVariant/<id>`.
    public var variantId: Int64
    /// Inventory item id; GraphQL `gid://shopify/InventoryItem/<id>`.
    public var inventoryItemId: Int64
    /// The SKU (Shopify does not enforce uniqueness; neither does the simulator).
    public var sku: String
    /// The location the item is stocked at.
    public var locationId: Int64
    /// The product's title.
    public var title: String

    /// The GraphQL id of the variant.
    public var variantGID: String { "gid://shopify/ProductVariant/\(variantId)" }
    /// The GraphQL id of the inventory item.
    public var inventoryItemGID: String { "gid://shopify/InventoryItem/\(inventoryItemId)" }
}

/// One inventory level: an item's `available` at a location.
public struct InventoryLevel: Sendable, Codable, Equatable {
    public var inventoryItemId: Int64
    public var variantId: Int64
    public var sku: String
    public var locationId: Int64
    public var available: Int
    /// Units of unfulfilled orders routed here (`committed`); `on_hand` is `available + committed`.
    public var committed: Int
    /// When the level last changed (shop time zone, seconds).
    public var updatedAt: String
}

/// A shop as the control API lists it (no secrets).
public struct ShopSummary: Sendable, Codable, Equatable {
    public var domain: String
    public var adminBaseURL: String
    public var locationId: Int64
    public var locationName: String
    public var plan: RateLimitPlan
    public var variants: Int
    public var orders: Int
}

/// What decides whether a written level protects a variant: Shopify counts down only tracked items
/// (`InventoryItem.tracked`), sells a `CONTINUE` variant beyond its stock (`ProductVariant.inventoryPolicy`), and
/// computes a bundle parent's stock from its components, refusing writes to it (`ProductVariant.requiresComponents`;
/// `NON_MUTABLE_INVENTORY_ITEM`, "if the inventory item is a parent bundle"), as the Admin schema 2026-04 describes
/// them. A new variant is tracked, `DENY`, and no bundle.
public struct VariantTraits: Sendable, Codable, Equatable {
    public var tracked: Bool
    public var continueSelling: Bool
    public var requiresComponents: Bool

    public init(tracked: Bool = true, continueSelling: Bool = false, requiresComponents: Bool = false) {
        self.tracked = tracked
        self.continueSelling = continueSelling
        self.requiresComponents = requiresComponents
    }
}
