import Foundation

/// The calculator's announcement of one product's variants in one shop, published on `stockwire.catalog`
/// (routing key: the shop's domain) when it applies `products/create|update`.
///
/// Exporters map SKUs to the shop's inventory items from these messages, so writing a SKU needs no lookup at
/// Shopify. A message carries every variant of the product as Shopify sent it: it replaces what was known of
/// that product, so a variant that is gone, or whose SKU changed, no longer maps.
public struct CatalogMessage: Sendable, Equatable, Codable {
    /// Version of this contract.
    public static let currentSchemaVersion = 1
    /// The AMQP `type` property of catalog messages.
    public static let messageType = "stockwire.catalog"

    /// One variant of the product.
    public struct Variant: Sendable, Equatable, Codable {
        public var variantId: Int64
        /// The SKU (trimmed), nil when the variant has none.
        public var sku: String?
        /// The inventory item whose level Stockwire writes.
        public var inventoryItemId: Int64?
        /// Whether Shopify tracks the variant's inventory: false (REST `inventory_management: null`) means Shopify
        /// never counts it down, so no level written protects it. nil: the webhook did not say.
        public var tracked: Bool?
        /// Whether the variant keeps selling when out of stock (REST `inventory_policy: "continue"`): Shopify sells
        /// beyond any level written. nil: the webhook did not say.
        public var continueSelling: Bool?

        public init(
            variantId: Int64, sku: String?, inventoryItemId: Int64?, tracked: Bool? = nil, continueSelling: Bool? = nil
        ) {
            self.variantId = variantId
            self.sku = sku
            self.inventoryItemId = inventoryItemId
            self.tracked = tracked
            self.continueSelling = continueSelling
        }

        enum CodingKeys: String, CodingKey {
            case variantId = "variant_id", sku, inventoryItemId = "inventory_item_id", tracked
            case continueSelling = "continue_selling"
        }
    }

    /// Contract version of this message.
    public var schemaVersion: Int
    /// The shop's `*.myshopify.com` domain.
    public var shop: ShopDomain
    /// The product.
    public var productId: Int64
    /// The product's `updated_at` (ms since 1970) when Shopify sent it: an older snapshot of the same product
    /// arriving late must not replace a newer one.
    public var updatedAtMillis: Int64?
    /// All variants of the product.
    public var variants: [Variant]

    public init(
        schemaVersion: Int = currentSchemaVersion, shop: ShopDomain, productId: Int64, updatedAtMillis: Int64?,
        variants: [Variant]
    ) {
        self.schemaVersion = schemaVersion
        self.shop = shop
        self.productId = productId
        self.updatedAtMillis = updatedAtMillis
        self.variants = variants
    }

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version", shop, productId = "product_id", updatedAtMillis = "updated_at_ms"
        case variants
    }

    /// JSON with sorted keys.
    public func json() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(self))
    }

    /// Decodes and checks the schema version.
    public static func decode(_ body: [UInt8]) throws -> CatalogMessage {
        let m: CatalogMessage
        do {
            m = try JSONDecoder().decode(CatalogMessage.self, from: Data(body))
        } catch {
            throw ContractError("catalog message is not valid: \(error)")
        }
        guard m.schemaVersion == currentSchemaVersion else {
            throw ContractError("catalog schema version \(m.schemaVersion) is not supported")
        }
        return m
    }
}
