import AMQP
import Contracts
import Foundation
import StockCore

/// A delivery read into an event, or the reason it cannot be understood.
enum DecodedDelivery: Sendable {
    case event(StockEvent, EventCause, shop: String?, topic: String)
    case poison(String)
}

/// Turns deliveries of `calculator.events` into ``StockEvent``s; every failure names the field and the rule.
///
/// Shopify payloads are decoded with `JSONDecoder` into `Int64` fields, never through `Double`, so ids above 2^53
/// survive.
enum EventDecoder {
    /// Shopify topics the calculator receives (the queue is bound `#`) but has no use for.
    static let ignoredTopics: Set<String> = [
        "inventory_levels/update", "inventory_levels/connect", "inventory_levels/disconnect",
        "inventory_items/create", "inventory_items/update", "inventory_items/delete", "orders/paid",
        "orders/fulfilled", "orders/partially_fulfilled", "orders/delete", "fulfillments/create",
        "fulfillments/update", "products/delete", "app/uninstalled", "shop/update",
    ]

    /// The largest quantity one order line or refund line may carry, as for a warehouse movement: far above any
    /// real order, and small enough that sums over every line of every order cannot overflow the stock arithmetic
    /// (a signed payload with a quantity near `Int64.max` would otherwise trap the calculator on every redelivery).
    static let maxQuantity: Int64 = 1_000_000_000

    /// Reads one delivery.
    static func decode(body: [UInt8], properties: AMQPProperties) -> DecodedDelivery {
        let envelope: EventEnvelope
        do {
            envelope = try EventEnvelope(body: body, properties: properties)
        } catch {
            return .poison("envelope: \(error)")
        }
        let cause = EventCause(messageId: envelope.messageId, receivedAtMillis: envelope.receivedAtMillis)
        do {
            let event = try decode(envelope)
            return .event(event, cause, shop: envelope.shop?.description, topic: envelope.topic)
        } catch let error as ContractError {
            return .poison("\(envelope.source.rawValue) \(envelope.topic) \(envelope.messageId): \(error.message)")
        } catch {
            return .poison("\(envelope.source.rawValue) \(envelope.topic) \(envelope.messageId): \(error)")
        }
    }

    /// Reads the body of an envelope according to its source and topic.
    static func decode(_ envelope: EventEnvelope) throws -> StockEvent {
        switch envelope.source {
        case .warehouse:
            let movements = try StockMovement.parse(envelope.body)
            return .movements(movements)
        case .shopify:
            guard let shop = envelope.shop?.description else { throw ContractError("shopify event without 'shop' header") }
            switch envelope.topic {
            case "orders/create", "orders/updated", "orders/cancelled":
                var snapshot = try orderSnapshot(envelope.body, shop: shop, preferCommittedAt: false)
                snapshot.triggeredAtMillis = envelope.triggeredAt.flatMap(ShopifyTimestamp.millis)
                return .order(snapshot)
            case "orders/edited":
                if try isOrderEditDelta(envelope.body) {
                    return .ignored("orders/edited in order_edit (delta) form: the orders/updated snapshot carries it")
                }
                var snapshot = try orderSnapshot(envelope.body, shop: shop, preferCommittedAt: true)
                snapshot.triggeredAtMillis = envelope.triggeredAt.flatMap(ShopifyTimestamp.millis)
                return .order(snapshot)
            case "refunds/create":
                return .refund(try refund(envelope.body, shop: shop))
            case "products/create", "products/update":
                return .catalog(try catalog(envelope.body, shop: shop))
            case let topic where ignoredTopics.contains(topic):
                return .ignored("topic \(topic) does not move stock")
            default:
                throw ContractError("unknown topic '\(envelope.topic)'")
            }
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

    static func orderSnapshot(_ body: [UInt8], shop: String, preferCommittedAt: Bool) throws -> OrderSnapshot {
        try orderSnapshot(try order(body), shop: shop, preferCommittedAt: preferCommittedAt)
    }

    /// Reads an order body (every failure names the field), for callers that need more of it than the snapshot.
    static func order(_ body: [UInt8]) throws -> ShopifyOrder { try json(ShopifyOrder.self, body) }

    static func orderSnapshot(_ order: ShopifyOrder, shop: String, preferCommittedAt: Bool) throws -> OrderSnapshot {
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
            guard item.quantity <= maxQuantity, (item.current_quantity ?? 0) <= maxQuantity else {
                throw ContractError("order \(order.id) line \(item.id): quantities must be at most \(maxQuantity)")
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
        return try json(Probe.self, body).order_edit != nil
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

    static func refund(_ body: [UInt8], shop: String) throws -> RefundEvent {
        let r = try json(ShopifyRefund.self, body)
        for (i, line) in (r.refund_line_items ?? []).enumerated() where line.quantity > maxQuantity {
            throw ContractError("refund \(r.id): refund_line_items[\(i)].quantity must be at most \(maxQuantity)")
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

    static func catalog(_ body: [UInt8], shop: String) throws -> CatalogUpdate {
        let p = try json(ShopifyProduct.self, body)
        return CatalogUpdate(
            shop: shop, productId: p.id, updatedAtMillis: p.updated_at.flatMap(ShopifyTimestamp.millis),
            variants: (p.variants ?? []).map {
                let sku = $0.sku?.trimmingCharacters(in: .whitespaces)
                return CatalogUpdate.Entry(
                    variantId: $0.id, sku: sku?.isEmpty == false ? sku : nil, inventoryItemId: $0.inventory_item_id,
                    tracked: $0.tracked, continueSelling: $0.continueSelling)
            })
    }

    // MARK: JSON

    private static func json<T: Decodable>(_ type: T.Type, _ body: [UInt8]) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(body))
        } catch let DecodingError.keyNotFound(key, context) {
            throw ContractError("missing field \(path(context.codingPath + [key]))")
        } catch let DecodingError.typeMismatch(type, context) {
            throw ContractError("field \(path(context.codingPath)) must be \(type)")
        } catch let DecodingError.valueNotFound(type, context) {
            throw ContractError("field \(path(context.codingPath)) must be \(type), not null")
        } catch let DecodingError.dataCorrupted(context) {
            if context.codingPath.isEmpty {
                // JSONDecoder reports a number that does not fit its Int64 field (1.5, 2^64) as invalid JSON,
                // without a path; say what is wrong when the JSON itself is fine.
                if (try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])) != nil {
                    throw ContractError("a number does not fit its field: ids and quantities are whole numbers within 64 bits")
                }
                throw ContractError("body is not valid JSON")
            }
            throw ContractError("field \(path(context.codingPath)) is not valid: \(context.debugDescription)")
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }
}
