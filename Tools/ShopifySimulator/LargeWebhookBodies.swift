/// Webhook bodies as large as real shops send them, with every field Shopify's REST resources carry, to measure what
/// ingest must accept and to test it with.
///
/// Fields follow the REST Admin API resources the webhooks carry: Product and its variants, options and images
/// (https://shopify.dev/docs/api/admin-rest/latest/resources/product, .../product-variant), Order and its line items
/// (https://shopify.dev/docs/api/admin-rest/latest/resources/order). Limits: a product has up to 2,048 variants since
/// the new product model of API 2024-04 (https://shopify.dev/docs/apps/build/graphql/migrate/new-product-model); an
/// order has up to 500 line items at checkout (Shopify's cart limit, as apps report it; not a documented API limit).
/// Values are typical, not maximal: titles and option values of a few words, prices in shop and presentment currency.
public enum LargeWebhookBodies {
    /// A `products/update` body for a product with `variants` variants over three options, one image per 10 variants.
    public static func productUpdate(productId: Int64 = 8_123_456_789_012, variants count: Int, skuPrefix: String = "BIG")
        -> [UInt8]
    {
        let stamp = "2026-11-27T09:15:42-05:00"
        let sizes = ["XS", "S", "M", "L", "XL", "XXL", "3XL", "4XL"]
        let colours = (0..<16).map { "Colour \($0 + 1)" }
        let materials = (0..<16).map { "Material \($0 + 1)" }
        func option(_ i: Int) -> (String, String, String) {
            (sizes[i % sizes.count], colours[(i / sizes.count) % colours.count], materials[i / (sizes.count * colours.count)])
        }
        var variants: [JSONValue] = []
        var gids: [JSONValue] = []
        for i in 0..<count {
            let id = 45_000_000_000_000 + Int64(i)
            let (o1, o2, o3) = option(i)
            variants.append([
                "id": .int(id), "product_id": .int(productId), "title": .string("\(o1) / \(o2) / \(o3)"),
                "price": "49.95", "sku": .string("\(skuPrefix)-\(i)"), "position": .int(Int64(i + 1)),
                "inventory_policy": "deny", "compare_at_price": "59.95", "option1": .string(o1), "option2": .string(o2),
                "option3": .string(o3), "created_at": .string(stamp), "updated_at": .string(stamp), "taxable": true,
                "barcode": .string(String(4_006_381_333_931 + Int64(i))), "fulfillment_service": "manual", "grams": 450,
                "inventory_management": "shopify", "requires_shipping": true, "weight": 0.45, "weight_unit": "kg",
                "inventory_item_id": .int(47_000_000_000_000 + Int64(i)), "inventory_quantity": 12, "old_inventory_quantity": 12,
                "admin_graphql_api_id": .string("gid://shopify/ProductVariant/\(id)"), "image_id": .null,
            ])
            gids.append(["admin_graphql_api_id": .string("gid://shopify/ProductVariant/\(id)"), "updated_at": .string(stamp)])
        }
        let images: [JSONValue] = stride(from: 0, to: count, by: 10).map { start in
            let id = 36_000_000_000_000 + Int64(start)
            return [
                "id": .int(id), "product_id": .int(productId), "position": .int(Int64(start / 10 + 1)), "created_at": .string(stamp),
                "updated_at": .string(stamp), "alt": .null, "width": 2048, "height": 2048,
                "src": .string("https://cdn.shopify.com/s/files/1/0123/4567/8901/files/product-\(start).jpg?v=1732716942"),
                "variant_ids": .array((start..<min(start + 10, count)).map { .int(45_000_000_000_000 + Int64($0)) }),
                "admin_graphql_api_id": .string("gid://shopify/ProductImage/\(id)"),
            ]
        }
        let optionValues = [
            Array(Set((0..<count).map { option($0).0 })).sorted(), Array(Set((0..<count).map { option($0).1 })).sorted(),
            Array(Set((0..<count).map { option($0).2 })).sorted(),
        ]
        let options: [JSONValue] = zip(["Size", "Colour", "Material"], optionValues).enumerated().map { i, pair in
            [
                "id": .int(10_000_000_000_000 + Int64(i)), "product_id": .int(productId), "name": .string(pair.0),
                "position": .int(Int64(i + 1)), "values": .array(pair.1.map { .string($0) }),
            ]
        }
        let product: JSONValue = [
            "admin_graphql_api_id": .string("gid://shopify/Product/\(productId)"),
            "body_html": "<p>Organic cotton, pre-washed, with a relaxed fit. Machine wash at 30 °C.</p>",
            "created_at": .string(stamp), "handle": "big-product", "id": .int(productId), "product_type": "Apparel",
            "published_at": .string(stamp), "template_suffix": "", "title": "A product with many variants",
            "updated_at": .string(stamp), "vendor": "Stockwire Test", "status": "active", "published_scope": "global",
            "tags": "autumn, bestseller, cotton", "variants": .array(variants), "options": .array(options),
            "images": .array(images), "image": images.first ?? .null, "media": .array([]), "variant_gids": .array(gids),
            "has_variants_that_requires_components": false, "category": .null,
        ]
        return product.bytes
    }

    /// An `orders/create` body with `lines` line items, each with its price sets, a tax line and a discount allocation.
    public static func orderCreate(orderId: Int64 = 6_123_456_789_012, lines count: Int, skuPrefix: String = "BIG") -> [UInt8] {
        let stamp = "2026-11-27T09:15:42-05:00"
        func money(_ amount: String) -> JSONValue {
            [
                "shop_money": ["amount": .string(amount), "currency_code": "EUR"],
                "presentment_money": ["amount": .string(amount), "currency_code": "EUR"],
            ]
        }
        let lineItems: [JSONValue] = (0..<count).map { i in
            let id = 15_000_000_000_000 + Int64(i)
            return [
                "id": .int(id), "admin_graphql_api_id": .string("gid://shopify/LineItem/\(id)"), "attributed_staffs": [],
                "current_quantity": 1, "fulfillable_quantity": 1, "fulfillment_service": "manual", "fulfillment_status": .null,
                "gift_card": false, "grams": 450, "name": .string("A product with many variants - M / Colour \(i % 16 + 1)"),
                "price": "49.95", "price_set": money("49.95"), "product_exists": true, "product_id": 8_123_456_789_012,
                "properties": [], "quantity": 1, "requires_shipping": true, "sku": .string("\(skuPrefix)-\(i)"), "taxable": true,
                "title": "A product with many variants", "total_discount": "0.00", "total_discount_set": money("0.00"),
                "variant_id": .int(45_000_000_000_000 + Int64(i)), "variant_inventory_management": "shopify",
                "variant_title": .string("M / Colour \(i % 16 + 1) / Material 1"), "vendor": "Stockwire Test",
                "tax_lines": [["channel_liable": false, "price": "7.98", "price_set": money("7.98"), "rate": 0.19, "title": "MwSt"]],
                "duties": [],
                "discount_allocations": [["amount": "5.00", "amount_set": money("5.00"), "discount_application_index": 0]],
                "sales_line_item_group_id": .null,
            ]
        }
        let address: JSONValue = [
            "first_name": "Erika", "last_name": "Mustermann", "address1": "Hauptstraße 1", "address2": .null, "city": "Berlin",
            "zip": "10115", "province": .null, "country": "Germany", "country_code": "DE", "company": .null,
            "phone": .null, "name": "Erika Mustermann", "latitude": 52.53, "longitude": 13.38, "province_code": .null,
        ]
        let order: JSONValue = [
            "id": .int(orderId), "admin_graphql_api_id": .string("gid://shopify/Order/\(orderId)"), "name": "#1001",
            "order_number": 1001, "created_at": .string(stamp), "updated_at": .string(stamp), "processed_at": .string(stamp),
            "cancelled_at": .null, "cancel_reason": .null, "closed_at": .null, "currency": "EUR", "presentment_currency": "EUR",
            "financial_status": "paid", "fulfillment_status": .null, "test": false, "confirmed": true,
            "email": "erika@example.com", "contact_email": "erika@example.com", "buyer_accepts_marketing": false,
            "subtotal_price": "24975.00", "subtotal_price_set": money("24975.00"), "total_price": "24975.00",
            "total_price_set": money("24975.00"), "total_tax": "3987.61", "total_tax_set": money("3987.61"),
            "total_discounts": "0.00", "total_discounts_set": money("0.00"), "total_weight": .int(Int64(450 * count)),
            "taxes_included": true, "tax_lines": [["price": "3987.61", "rate": 0.19, "title": "MwSt", "price_set": money("3987.61")]],
            "discount_applications": [
                ["type": "automatic", "title": "Black Friday", "value": "5.0", "value_type": "fixed_amount", "allocation_method": "each",
                 "target_selection": "all", "target_type": "line_item"],
            ],
            "discount_codes": [], "note": .null, "note_attributes": [], "tags": "", "source_name": "web",
            "billing_address": address, "shipping_address": address,
            "shipping_lines": [["id": 4_000_000_000_000, "code": "Standard", "price": "0.00", "price_set": money("0.00"), "title": "Standard"]],
            "line_items": .array(lineItems), "refunds": [], "fulfillments": [],
            "customer": ["id": 7_000_000_000_000, "email": "erika@example.com", "first_name": "Erika", "last_name": "Mustermann"],
        ]
        return order.bytes
    }
}
