import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

extension Simulator {
    // MARK: - Request bodies

    struct VariantRequest: Decodable {
        var sku: String
        var available: Int
        var location: Int64?
        var title: String?
    }

    struct LevelRequest: Decodable {
        var sku: String?
        var inventoryItemId: Int64?
        var available: Int
    }

    struct CheckoutRequest: Decodable {
        var sku: String?
        var variantId: Int64?
        var quantity: Int?
        var buyer: String?
        var lines: [CheckoutLine]?
    }

    struct CancelRequest: Decodable {
        var restock: Bool?
        var reason: String?
    }

    struct EditRequest: Decodable {
        var lineItemId: Int64
        var currentQuantity: Int
        enum CodingKeys: String, CodingKey {
            case lineItemId = "line_item_id"
            case currentQuantity = "current_quantity"
        }
    }

    struct RefundRequest: Decodable {
        var lineItemId: Int64
        var quantity: Int
        var restockType: RestockType
        enum CodingKeys: String, CodingKey {
            case lineItemId = "line_item_id"
            case quantity
            case restockType = "restock_type"
        }
    }

    struct FaultsRequest: Decodable {
        var faults: ShopFaults
        var emptyBucket: Bool
        init(from decoder: any Decoder) throws {
            faults = try ShopFaults(from: decoder)
            enum Keys: String, CodingKey { case emptyBucket }
            emptyBucket = try decoder.container(keyedBy: Keys.self).decodeIfPresent(Bool.self, forKey: .emptyBucket) ?? false
        }
    }

    struct LocationRequest: Decodable { var name: String }

    // MARK: - Routes

    static func addRoutes(to router: Router<BasicRequestContext>, box: SimulatorBox) {
        router.post("/shops/:shop/admin/api/:version/graphql.json") { request, context -> Response in
            guard let sim = box.value else { return Self.response(503, #"{"errors":"starting"}"#) }
            let shop = context.parameters.get("shop") ?? ""
            let version = context.parameters.get("version") ?? ""
            let token = request.headers[HTTPField.Name("X-Shopify-Access-Token")!]
            let body = try await request.body.collect(upTo: 16 << 20)
            return await sim.handleGraphQL(shop: shop, apiVersion: version, token: token, body: Array(body.readableBytesView))
        }

        let control = router.group("/_control")
        control.get("/health") { _, _ in Self.response(200, #"{"status":"ok"}"#) }
        control.get("/shops") { _, _ in
            try await Self.handle(box) { sim in Self.encode(await sim.shops()) }
        }
        control.post("/shops") { request, _ in
            try await Self.handle(box) { sim in
                let shop = try await Self.decode(ShopConfiguration.self, request)
                try await sim.addShop(shop)
                return Self.encode(["domain": shop.domain, "adminBaseURL": sim.adminBaseURL(shop: shop.domain)])
            }
        }
        control.post("/shops/:shop/locations") { request, context in
            try await Self.handle(box) { sim in
                let body = try await Self.decode(LocationRequest.self, request)
                let id = try await sim.addLocation(shop: Self.shop(context), name: body.name)
                return Self.encode(["id": id])
            }
        }
        control.post("/shops/:shop/variants") { request, context in
            try await Self.handle(box) { sim in
                let body = try await Self.decode(VariantRequest.self, request)
                let variant = try await sim.createVariant(
                    shop: Self.shop(context), sku: body.sku, available: body.available, locationID: body.location, title: body.title)
                return Self.encode(variant, status: 201)
            }
        }
        control.get("/shops/:shop/variants") { _, context in
            try await Self.handle(box) { sim in Self.encode(try await sim.variants(shop: Self.shop(context))) }
        }
        control.get("/shops/:shop/levels") { request, context in
            try await Self.handle(box) { sim in
                if request.uri.queryParameters.get("by") == "item" {
                    return Self.encode(try await sim.inventoryLevels(shop: Self.shop(context)))
                }
                return Self.encode(try await sim.levels(shop: Self.shop(context)))
            }
        }
        control.get("/shops/:shop/level-history") { _, context in
            try await Self.handle(box) { sim in Self.encode(try await sim.levelHistory(shop: Self.shop(context))) }
        }
        control.post("/shops/:shop/levels") { request, context in
            try await Self.handle(box) { sim in
                let body = try await Self.decode(LevelRequest.self, request)
                try await sim.setAvailable(
                    shop: Self.shop(context), sku: body.sku, inventoryItemID: body.inventoryItemId, available: body.available)
                return Self.encode(try await sim.levels(shop: Self.shop(context)))
            }
        }
        control.post("/shops/:shop/checkout") { request, context in
            try await Self.handle(box) { sim in
                let body = try await Self.decode(CheckoutRequest.self, request)
                var lines = body.lines ?? []
                if body.sku != nil || body.variantId != nil {
                    lines.append(CheckoutLine(sku: body.sku, variantId: body.variantId, quantity: body.quantity ?? 1))
                }
                let order = try await sim.checkout(shop: Self.shop(context), lines: lines, buyer: body.buyer)
                return Self.encode(order, status: 201)
            }
        }
        control.get("/shops/:shop/orders") { _, context in
            try await Self.handle(box) { sim in Self.encode(try await sim.orders(shop: Self.shop(context))) }
        }
        control.get("/shops/:shop/orders/:id") { _, context in
            try await Self.handle(box) { sim in
                Self.encode(try await sim.state.order(shop: Self.shop(context), id: Self.orderID(context)))
            }
        }
        control.post("/shops/:shop/orders/:id/cancel") { request, context in
            try await Self.handle(box) { sim in
                let body = try await Self.decodeOptional(CancelRequest.self, request) ?? CancelRequest()
                return Self.encode(
                    try await sim.cancelOrder(
                        shop: Self.shop(context), orderID: Self.orderID(context), restock: body.restock ?? true,
                        reason: body.reason ?? "customer"))
            }
        }
        control.post("/shops/:shop/orders/:id/edit") { request, context in
            try await Self.handle(box) { sim in
                let body = try await Self.decode(EditRequest.self, request)
                return Self.encode(
                    try await sim.editOrder(
                        shop: Self.shop(context), orderID: Self.orderID(context), lineItemID: body.lineItemId,
                        currentQuantity: body.currentQuantity))
            }
        }
        control.post("/shops/:shop/orders/:id/refund") { request, context in
            try await Self.handle(box) { sim in
                let body = try await Self.decode(RefundRequest.self, request)
                return Self.encode(
                    try await sim.refund(
                        shop: Self.shop(context), orderID: Self.orderID(context), lineItemID: body.lineItemId,
                        quantity: body.quantity, restockType: body.restockType), status: 201)
            }
        }
        control.post("/shops/:shop/orders/:id/fulfill") { _, context in
            try await Self.handle(box) { sim in
                Self.encode(try await sim.fulfill(shop: Self.shop(context), orderID: Self.orderID(context)))
            }
        }
        control.get("/shops/:shop/writes") { request, context in
            try await Self.handle(box) { sim in
                let since = request.uri.queryParameters.get("since").flatMap(Int.init) ?? 0
                let shop = Self.shop(context)
                _ = try await sim.faults(shop: shop)  // 404 for an unknown shop
                return Self.encode(await sim.writeLog(shop: shop, since: since))
            }
        }
        control.get("/shops/:shop/faults") { _, context in
            try await Self.handle(box) { sim in Self.encode(try await sim.faults(shop: Self.shop(context))) }
        }
        control.put("/shops/:shop/faults") { request, context in
            try await Self.handle(box) { sim in
                let body = try await Self.decodeOptional(FaultsRequest.self, request)
                try await sim.setFaults(body?.faults ?? ShopFaults(), shop: Self.shop(context), emptyBucket: body?.emptyBucket ?? false)
                return Self.encode(try await sim.faults(shop: Self.shop(context)))
            }
        }
        control.get("/webhooks") { request, _ in
            try await Self.handle(box) { sim in
                let since = request.uri.queryParameters.get("since").flatMap(Int.init) ?? 0
                return Self.encode(sim.webhookDeliveries(since: since))
            }
        }
        control.get("/webhooks/faults") { _, _ in
            try await Self.handle(box) { sim in Self.encode(sim.webhookFaults) }
        }
        control.put("/webhooks/faults") { request, _ in
            try await Self.handle(box) { sim in
                let faults = try await Self.decodeOptional(WebhookFaults.self, request) ?? WebhookFaults()
                sim.setWebhookFaults(faults)
                return Self.encode(sim.webhookFaults)
            }
        }
    }

    // MARK: - Helpers

    private static func handle(_ box: SimulatorBox, _ body: (Simulator) async throws -> Response) async throws -> Response {
        guard let sim = box.value else { return response(503, #"{"error":"starting"}"#) }
        do {
            return try await body(sim)
        } catch let error as SimulatorError {
            return encode(["error": error.code.description, "message": error.message], status: error.httpStatus)
        } catch let error as DecodingError {
            return encode(["error": "invalidRequest", "message": "request body does not match: \(error)"], status: 422)
        }
    }

    private static func shop(_ context: BasicRequestContext) -> String { context.parameters.get("shop") ?? "" }

    private static func orderID(_ context: BasicRequestContext) throws -> Int64 {
        guard let id = context.parameters.get("id").flatMap(Int64.init) else {
            throw SimulatorError(.invalidRequest, "order id must be a 64-bit integer")
        }
        return id
    }

    private static func decode<T: Decodable>(_ type: T.Type, _ request: Request) async throws -> T {
        guard let value = try await decodeOptional(type, request) else {
            throw SimulatorError(.invalidRequest, "request body is empty; expected JSON")
        }
        return value
    }

    private static func decodeOptional<T: Decodable>(_ type: T.Type, _ request: Request) async throws -> T? {
        let buffer = try await request.body.collect(upTo: 4 << 20)
        guard buffer.readableBytes > 0 else { return nil }
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch let error as DecodingError {
            throw error
        } catch {
            throw SimulatorError(.invalidRequest, "request body is not JSON: \(error)")
        }
    }

    static func encode<T: Encodable>(_ value: T, status: Int = 200) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return response(status, [UInt8](try encoder.encode(value)))
        } catch {
            return response(500, #"{"error":"encoding failed"}"#)
        }
    }
}
