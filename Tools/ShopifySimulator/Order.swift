/// An order as Shopify's REST Admin API and its order webhooks show it (the fields Stockwire reads, and a few
/// more so payloads look real). Ids are 64-bit and start above 2^53.
public struct Order: Sendable, Codable, Equatable {
    public var id: Int64
    public var adminGraphqlApiId: String
    public var name: String
    public var orderNumber: Int
    public var email: String?
    public var createdAt: String
    public var updatedAt: String
    public var processedAt: String
    public var cancelledAt: String?
    public var cancelReason: String?
    public var closedAt: String?
    public var currency: String
    public var financialStatus: String
    /// `null` (nothing fulfilled), `partial`, or `fulfilled`.
    public var fulfillmentStatus: String?
    public var totalPrice: String
    public var test: Bool
    public var lineItems: [LineItem]
    public var refunds: [Refund]

    enum CodingKeys: String, CodingKey {
        case id, name, email, currency, test, refunds
        case adminGraphqlApiId = "admin_graphql_api_id"
        case orderNumber = "order_number"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case processedAt = "processed_at"
        case cancelledAt = "cancelled_at"
        case cancelReason = "cancel_reason"
        case closedAt = "closed_at"
        case financialStatus = "financial_status"
        case fulfillmentStatus = "fulfillment_status"
        case totalPrice = "total_price"
        case lineItems = "line_items"
    }

    public func encode(to encoder: any Encoder) throws {
        // Explicit nulls, as Shopify sends them (`"cancelled_at": null`), instead of omitted keys.
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(adminGraphqlApiId, forKey: .adminGraphqlApiId)
        try c.encode(name, forKey: .name)
        try c.encode(orderNumber, forKey: .orderNumber)
        try c.encode(email, forKey: .email)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(updatedAt, forKey: .updatedAt)
        try c.encode(processedAt, forKey: .processedAt)
        try c.encode(cancelledAt, forKey: .cancelledAt)
        try c.encode(cancelReason, forKey: .cancelReason)
        try c.encode(closedAt, forKey: .closedAt)
        try c.encode(currency, forKey: .currency)
        try c.encode(financialStatus, forKey: .financialStatus)
        try c.encode(fulfillmentStatus, forKey: .fulfillmentStatus)
        try c.encode(totalPrice, forKey: .totalPrice)
        try c.encode(test, forKey: .test)
        try c.encode(lineItems, forKey: .lineItems)
        try c.encode(refunds, forKey: .refunds)
    }
}

/// One line of an ``Order``.
public struct LineItem: Sendable, Codable, Equatable {
    public var id: Int64
    public var adminGraphqlApiId: String
    /// May be null in Shopify (deleted variant); always set by the simulator.
    public var variantId: Int64?
    public var productId: Int64?
    public var sku: String?
    public var title: String
    public var name: String
    public var price: String
    /// Units originally ordered; never changes.
    public var quantity: Int
    /// Units after edits, removals and refunds (API 2024-01+).
    public var currentQuantity: Int
    /// Units still to be fulfilled.
    public var fulfillableQuantity: Int
    /// `null`, `partial`, or `fulfilled`.
    public var fulfillmentStatus: String?
    public var requiresShipping: Bool
    public var variantInventoryManagement: String

    enum CodingKeys: String, CodingKey {
        case id, sku, title, name, price, quantity
        case adminGraphqlApiId = "admin_graphql_api_id"
        case variantId = "variant_id"
        case productId = "product_id"
        case currentQuantity = "current_quantity"
        case fulfillableQuantity = "fulfillable_quantity"
        case fulfillmentStatus = "fulfillment_status"
        case requiresShipping = "requires_shipping"
        case variantInventoryManagement = "variant_inventory_management"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(adminGraphqlApiId, forKey: .adminGraphqlApiId)
        try c.encode(variantId, forKey: .variantId)
        try c.encode(productId, forKey: .productId)
        try c.encode(sku, forKey: .sku)
        try c.encode(title, forKey: .title)
        try c.encode(name, forKey: .name)
        try c.encode(price, forKey: .price)
        try c.encode(quantity, forKey: .quantity)
        try c.encode(currentQuantity, forKey: .currentQuantity)
        try c.encode(fulfillableQuantity, forKey: .fulfillableQuantity)
        try c.encode(fulfillmentStatus, forKey: .fulfillmentStatus)
        try c.encode(requiresShipping, forKey: .requiresShipping)
        try c.encode(variantInventoryManagement, forKey: .variantInventoryManagement)
    }
}

/// A refund as the `refunds/create` webhook carries it.
public struct Refund: Sendable, Codable, Equatable {
    public var id: Int64
    public var adminGraphqlApiId: String
    public var orderId: Int64
    public var createdAt: String
    public var processedAt: String
    public var note: String?
    /// True when any line was restocked.
    public var restock: Bool
    public var refundLineItems: [RefundLineItem]

    enum CodingKeys: String, CodingKey {
        case id, note, restock
        case adminGraphqlApiId = "admin_graphql_api_id"
        case orderId = "order_id"
        case createdAt = "created_at"
        case processedAt = "processed_at"
        case refundLineItems = "refund_line_items"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(adminGraphqlApiId, forKey: .adminGraphqlApiId)
        try c.encode(orderId, forKey: .orderId)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(processedAt, forKey: .processedAt)
        try c.encode(note, forKey: .note)
        try c.encode(restock, forKey: .restock)
        try c.encode(refundLineItems, forKey: .refundLineItems)
    }
}

/// One line of a ``Refund``.
public struct RefundLineItem: Sendable, Codable, Equatable {
    public var id: Int64
    public var lineItemId: Int64
    public var quantity: Int
    /// `cancel`, `return`, `no_restock`, or `legacy_restock`.
    public var restockType: String
    public var locationId: Int64?
    public var lineItem: LineItem

    enum CodingKeys: String, CodingKey {
        case id, quantity
        case lineItemId = "line_item_id"
        case restockType = "restock_type"
        case locationId = "location_id"
        case lineItem = "line_item"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(lineItemId, forKey: .lineItemId)
        try c.encode(quantity, forKey: .quantity)
        try c.encode(restockType, forKey: .restockType)
        try c.encode(locationId, forKey: .locationId)
        try c.encode(lineItem, forKey: .lineItem)
    }
}
