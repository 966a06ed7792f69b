import AMQP
import Contracts
import Foundation
import Testing

@testable import calculator

@Suite struct EventDecoderTests {
    static func envelope(_ topic: String, _ json: String, shop: ShopDomain? = "a.myshopify.com", id: String = "d1")
        -> EventEnvelope
    {
        EventEnvelope(
            source: shop == nil ? .warehouse : .shopify, shop: shop, topic: topic, deliveryId: id,
            receivedAtMillis: 5, body: Array(json.utf8))
    }

    @Test func timestampsWithOffsetsCompareAsInstants() {
        let a = ShopifyTimestamp.millis("2024-05-01T12:00:00-04:00")
        let b = ShopifyTimestamp.millis("2024-05-01T16:00:00Z")
        #expect(a != nil && a == b)
        #expect(ShopifyTimestamp.millis("1970-01-01T00:00:01.250Z") == 1_250)
        #expect(ShopifyTimestamp.millis("2024-05-01T12:00:00+02:00")! < ShopifyTimestamp.millis("2024-05-01T11:00:00Z")!)
        #expect(ShopifyTimestamp.millis("yesterday") == nil)
        #expect(ShopifyTimestamp.millis("2024-05-01T12:00:00") == nil)
    }

    @Test func orderIdsAbove2To53SurviveExactly() throws {
        let big: Int64 = 9_007_199_254_740_993  // 2^53 + 1: not representable as Double
        let json = """
            {"id": \(big), "updated_at": "2024-05-01T12:00:00-04:00", "cancelled_at": null,
             "line_items": [{"id": \(big + 2), "sku": "A", "quantity": 3, "current_quantity": 2},
                            {"id": 5, "sku": null, "quantity": 1}, {"id": 6, "sku": "", "quantity": 1},
                            {"id": 7, "sku": "B", "quantity": 4}]}
            """
        guard case .order(let o) = try EventDecoder.decode(Self.envelope("orders/updated", json)) else {
            Issue.record("not an order")
            return
        }
        #expect(o.orderId == big)
        #expect(o.lines.map(\.lineId) == [big + 2, 7])
        #expect(o.lines.map(\.currentQuantity) == [2, 4])
        #expect(o.linesWithoutSku == 2)
        #expect(o.cancelled == false)
    }

    @Test func editedUsesCommittedAtAndDeltaFormIsIgnored() throws {
        let json = """
            {"id": 1, "updated_at": "2024-05-01T12:00:00Z", "committed_at": "2024-05-01T12:00:05Z", "line_items": []}
            """
        guard case .order(let o) = try EventDecoder.decode(Self.envelope("orders/edited", json)) else {
            Issue.record("not an order")
            return
        }
        #expect(o.updatedAtMillis == ShopifyTimestamp.millis("2024-05-01T12:00:05Z"))
        let delta = #"{"order_edit": {"id": 1, "order_id": 2, "line_items": {"additions": [], "removals": []}}}"#
        guard case .ignored = try EventDecoder.decode(Self.envelope("orders/edited", delta)) else {
            Issue.record("expected ignored")
            return
        }
    }

    @Test func refundAndProductsDecode() throws {
        let refund = """
            {"id": 9007199254740995, "order_id": 2, "refund_line_items": [
              {"line_item_id": 11, "quantity": 2, "restock_type": "cancel"},
              {"line_item_id": 12, "quantity": 1, "restock_type": "return"}]}
            """
        guard case .refund(let r) = try EventDecoder.decode(Self.envelope("refunds/create", refund)) else {
            Issue.record("not a refund")
            return
        }
        #expect(r.refundId == 9_007_199_254_740_995)
        #expect(r.releases.map(\.lineId) == [11])
        let product = #"{"id": 3, "variants": [{"id": 31, "sku": "A", "inventory_item_id": 9007199254740997}]}"#
        guard case .catalog(let c) = try EventDecoder.decode(Self.envelope("products/update", product)) else {
            Issue.record("not a product")
            return
        }
        #expect(c.variants.first?.inventoryItemId == 9_007_199_254_740_997)
    }

    /// Issue #16, item 7: a custom line (no product, no variant) reduces no Shopify stock and must not reserve the
    /// warehouse's, even with a SKU; a bundle's component lines (`sales_line_item_group_id`) are real variants and do;
    /// a line whose variant was deleted keeps its product and still counts.
    @Test func customLinesReserveNothingAndBundleComponentLinesDo() throws {
        let json = """
            {"id": 1, "updated_at": "2024-05-01T12:00:00Z", "cancelled_at": null, "line_items": [
              {"id": 10, "sku": "GIFTWRAP", "quantity": 1, "variant_id": null, "product_id": null},
              {"id": 11, "sku": "TEE", "quantity": 2, "variant_id": 101, "product_id": 100, "sales_line_item_group_id": 7},
              {"id": 12, "sku": "MUG", "quantity": 1, "variant_id": 201, "product_id": 200, "sales_line_item_group_id": 7},
              {"id": 13, "sku": "CAP", "quantity": 1, "variant_id": null, "product_id": 300}]}
            """
        guard case .order(let o) = try EventDecoder.decode(Self.envelope("orders/create", json)) else {
            Issue.record("not an order")
            return
        }
        #expect(o.lines.map(\.sku) == ["TEE", "MUG", "CAP"])
        #expect(o.customLines == 1)
        #expect(o.linesWithoutSku == 0)
    }

    @Test func productVariantsSayWhetherShopifyTracksThemAndSellsBeyondStock() throws {
        let product = """
            {"id": 3, "variants": [
              {"id": 31, "sku": "A", "inventory_item_id": 1, "inventory_management": "shopify", "inventory_policy": "deny"},
              {"id": 32, "sku": "B", "inventory_item_id": 2, "inventory_management": null, "inventory_policy": "deny"},
              {"id": 33, "sku": "C", "inventory_item_id": 3, "inventory_management": "shopify", "inventory_policy": "continue"},
              {"id": 34, "sku": "D", "inventory_item_id": 4}]}
            """
        guard case .catalog(let c) = try EventDecoder.decode(Self.envelope("products/update", product)) else {
            Issue.record("not a product")
            return
        }
        #expect(c.variants.map(\.tracked) == [true, false, true, nil], "an absent field says nothing")
        #expect(c.variants.map(\.continueSelling) == [false, false, true, nil])
    }

    /// README tells operators to subscribe shops to `ShopifyWebhookTopics.used` and no others: each of them must be
    /// one the calculator reads, never one it throws away or refuses as unknown.
    @Test func everySubscribedTopicIsReadAndNoneIsIgnored() {
        #expect(Set(ShopifyWebhookTopics.used).isDisjoint(with: ShopifyEventDecoder.ignoredTopics))
        #expect(!ShopifyWebhookTopics.used.contains("inventory_levels/update"))
        for topic in ShopifyWebhookTopics.used {
            let e = Self.envelope(topic, "{}").message()
            if case .poison(let reason) = EventDecoder.decode(body: e.body, properties: e.properties) {
                #expect(!reason.contains("unknown topic"), "\(topic): \(reason)")
            } else {
                Issue.record("\(topic) with an empty payload must be refused for a missing field")
            }
        }
    }

    @Test func badInputIsPoisonWithAReason() {
        func reason(_ topic: String, _ json: String, shop: ShopDomain? = "a.myshopify.com") -> String? {
            let e = Self.envelope(topic, json, shop: shop).message()
            if case .poison(let r) = EventDecoder.decode(body: e.body, properties: e.properties) { return r }
            return nil
        }
        #expect(reason("orders/create", "{not json")?.contains("not valid JSON") == true)
        #expect(reason("orders/create", #"{"id": 1, "line_items": []}"#)?.contains("updated_at") == true)
        #expect(reason("orders/create", #"{"updated_at": "2024-05-01T12:00:00Z", "line_items": []}"#)?.contains("id") == true)
        #expect(reason("carts/create", "{}")?.contains("unknown topic") == true)
        #expect(
            reason("receipt", #"{"movement_id": "m", "sku": "A", "kind": "receipt"}"#, shop: nil)?.contains("quantity") == true)
        var props = AMQPProperties()
        props.headers = [:]
        if case .poison(let r) = EventDecoder.decode(body: [], properties: props) {
            #expect(r.contains("x-schema-version"))
        } else {
            Issue.record("missing headers must be poison")
        }
    }
}
