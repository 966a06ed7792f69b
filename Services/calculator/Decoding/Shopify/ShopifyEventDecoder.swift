import Contracts
import Foundation
import StockCore

/// Shopify's webhooks read into stock events: orders (`orders/create`, `orders/updated`, `orders/cancelled`,
/// `orders/edited`), refunds (`refunds/create`) and products (`products/create`, `products/update`), each body the
/// REST resource of its topic (https://shopify.dev/docs/apps/build/webhooks/delivery-structure).
///
/// Payloads are decoded with `JSONDecoder` into `Int64` fields, never through `Double`, so ids above 2^53 survive.
struct ShopifyEventDecoder: PlatformEventDecoder {
    /// Shopify topics the calculator receives (the queue is bound `#`) but has no use for.
    static let ignoredTopics: Set<String> = [
        "inventory_levels/update", "inventory_levels/connect", "inventory_levels/disconnect",
        "inventory_items/create", "inventory_items/update", "inventory_items/delete", "orders/paid",
        "orders/fulfilled", "orders/partially_fulfilled", "orders/delete", "fulfillments/create",
        "fulfillments/update", "products/delete", "app/uninstalled", "shop/update",
    ]

    func decode(_ envelope: EventEnvelope, shop: ShopDomain) throws -> StockEvent {
        switch envelope.topic {
        case "orders/create", "orders/updated", "orders/cancelled":
            var snapshot = try Self.orderSnapshot(envelope.body, shop: shop, preferCommittedAt: false)
            snapshot.triggeredAtMillis = envelope.triggeredAt.flatMap(ShopifyTimestamp.millis)
            return .order(snapshot)
        case "orders/edited":
            if try Self.isOrderEditDelta(envelope.body) {
                return .ignored("orders/edited in order_edit (delta) form: the orders/updated snapshot carries it")
            }
            var snapshot = try Self.orderSnapshot(envelope.body, shop: shop, preferCommittedAt: true)
            snapshot.triggeredAtMillis = envelope.triggeredAt.flatMap(ShopifyTimestamp.millis)
            return .order(snapshot)
        case "refunds/create":
            return .refund(try Self.refund(envelope.body, shop: shop))
        case "products/create", "products/update":
            return .catalog(try Self.catalog(envelope.body, shop: shop))
        case let topic where Self.ignoredTopics.contains(topic):
            return .ignored("topic \(topic) does not move stock")
        default:
            throw ContractError("unknown topic '\(envelope.topic)'")
        }
    }

    // MARK: Orders

    struct ShopifyOrder: Decodable {
        struct LineItem: Decodable {
            var id: Int64
            var sku: String?
            var quantity: Int64
            var current_quantity: Int64?
            /// A custom line (an item typed into a draft order or POS, not a product): `variant_id` and `product_id`
            /// both sent as null. Shopify reduces no inventory for it, whatever SKU it carries
            /// (https://shopify.dev/docs/api/admin-graphql/latest/input-objects/DraftOrderLineItemInput: `sku`
            /// "for custom line items only"). A line whose variant was deleted later keeps its `product_id`.
            var custom: Bool

            enum CodingKeys: String, CodingKey { case id, sku, quantity, current_quantity, variant_id, product_id }

            init(from decoder: any Decoder) throws {
                let c = try decoder.container(keyedBy: CodingKeys.self)
                id = try c.decode(Int64.self, forKey: .id)
                sku = try c.decodeIfPresent(String.self, forKey: .sku)
                quantity = try c.decode(Int64.self, forKey: .quantity)
                current_quantity = try c.decodeIfPresent(Int64.self, forKey: .current_quantity)
                let variantNull = c.contains(.variant_id) ? try c.decodeNil(forKey: .variant_id) : false
                let productNull = c.contains(.product_id) ? try c.decodeNil(forKey: .product_id) : false
                custom = variantNull && productNull
            }
        }
        var id: Int64
        var created_at: String?
        var updated_at: String?
        var committed_at: String?
        var cancelled_at: String?
        var line_items: [LineItem]
    }

    static func orderSnapshot(_ body: [UInt8], shop: ShopDomain, preferCommittedAt: Bool) throws -> OrderSnapshot {
        try orderSnapshot(try order(body), shop: shop, preferCommittedAt: preferCommittedAt)
    }

    /// Reads an order body (every failure names the field), for callers that need more of it than the snapshot.
    static func order(_ body: [UInt8]) throws -> ShopifyOrder { try EventDecoder.json(ShopifyOrder.self, body) }

    static func orderSnapshot(_ order: ShopifyOrder, shop: ShopDomain, preferCommittedAt: Bool) throws -> OrderSnapshot {
        let stampText = (preferCommittedAt ? order.committed_at ?? order.updated_at : order.updated_at)
        guard let stampText else { throw ContractError("order \(order.id): updated_at is required") }
        guard let stamp = ShopifyTimestamp.millis(stampText) else {
            throw ContractError("order \(order.id): updated_at '\(stampText)' is not an ISO 8601 time with offset")
        }
        var lines: [OrderSnapshot.Line] = []
        var withoutSku = 0
        var custom = 0
        for item in order.line_items {
            guard item.quantity >= 0, (item.current_quantity ?? 0) >= 0 else {
                throw ContractError("order \(order.id) line \(item.id): quantities must not be negative")
            }
            guard item.quantity <= EventDecoder.maxQuantity, (item.current_quantity ?? 0) <= EventDecoder.maxQuantity else {
                throw ContractError("order \(order.id) line \(item.id): quantities must be at most \(EventDecoder.maxQuantity)")
            }
            guard !item.custom else {
                custom += 1
                continue
            }
            guard let sku = item.sku?.trimmingCharacters(in: .whitespaces), !sku.isEmpty else {
                withoutSku += 1
                continue
            }
            lines.append(
                OrderSnapshot.Line(
                    lineId: item.id, sku: sku, quantity: item.quantity,
                    currentQuantity: item.current_quantity ?? item.quantity))
        }
        return OrderSnapshot(
            shop: shop, orderId: order.id, updatedAtMillis: stamp, cancelled: order.cancelled_at != nil, lines: lines,
            linesWithoutSku: withoutSku, customLines: custom)
    }

    static func isOrderEditDelta(_ body: [UInt8]) throws -> Bool {
        struct Probe: Decodable {
            struct Edit: Decodable {}
            var order_edit: Edit?
        }
        return try EventDecoder.json(Probe.self, body).order_edit != nil
    }

    // MARK: Refunds

    struct ShopifyRefund: Decodable {
        struct Line: Decodable {
            var line_item_id: Int64
            var quantity: Int64
            var restock_type: String?
        }
        var id: Int64
        var order_id: Int64
        var refund_line_items: [Line]?
    }

    static func refund(_ body: [UInt8], shop: ShopDomain) throws -> RefundEvent {
        let r = try EventDecoder.json(ShopifyRefund.self, body)
        for (i, line) in (r.refund_line_items ?? []).enumerated() where line.quantity > EventDecoder.maxQuantity {
            throw ContractError("refund \(r.id): refund_line_items[\(i)].quantity must be at most \(EventDecoder.maxQuantity)")
        }
        return RefundEvent(
            shop: shop, orderId: r.order_id, refundId: r.id,
            lines: (r.refund_line_items ?? []).map {
                RefundEvent.Line(lineId: $0.line_item_id, quantity: $0.quantity, restockType: $0.restock_type ?? "")
            })
    }

    // MARK: Products

    struct ShopifyProduct: Decodable {
        struct Variant: Decodable {
            var id: Int64
            var sku: String?
            var inventory_item_id: Int64?
            /// REST `inventory_management`: `"shopify"` when Shopify tracks the inventory, null when it does not;
            /// nil here when the field is absent (nothing said).
            var tracked: Bool?
            /// REST `inventory_policy`: `"continue"` sells when out of stock, `"deny"` does not.
            var continueSelling: Bool?

            enum CodingKeys: String, CodingKey { case id, sku, inventory_item_id, inventory_management, inventory_policy }

            init(from decoder: any Decoder) throws {
                let c = try decoder.container(keyedBy: CodingKeys.self)
                id = try c.decode(Int64.self, forKey: .id)
                sku = try c.decodeIfPresent(String.self, forKey: .sku)
                inventory_item_id = try c.decodeIfPresent(Int64.self, forKey: .inventory_item_id)
                if c.contains(.inventory_management) {
                    tracked = try c.decodeIfPresent(String.self, forKey: .inventory_management) != nil
                }
                continueSelling = try c.decodeIfPresent(String.self, forKey: .inventory_policy).map { $0 == "continue" }
            }
        }
        var id: Int64
        var updated_at: String?
        var variants: [Variant]?
    }

    static func catalog(_ body: [UInt8], shop: ShopDomain) throws -> CatalogUpdate {
        let p = try EventDecoder.json(ShopifyProduct.self, body)
        return CatalogUpdate(
            shop: shop, productId: p.id, updatedAtMillis: p.updated_at.flatMap(ShopifyTimestamp.millis),
            variants: (p.variants ?? []).map {
                let sku = $0.sku?.trimmingCharacters(in: .whitespaces)
                return CatalogUpdate.Entry(
                    variantId: $0.id, sku: sku?.isEmpty == false ? sku : nil, inventoryItemId: $0.inventory_item_id,
                    tracked: $0.tracked, continueSelling: $0.continueSelling)
            })
    }
}
