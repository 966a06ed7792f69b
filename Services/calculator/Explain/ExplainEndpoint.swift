import Foundation
import Hummingbird

/// `GET /explain/<sku>` (or `/explain?sku=<sku>` for SKUs with a slash) on the calculator's ops server: the
/// ``SkuExplanation`` as JSON; `limit` (1…200, default 20) sets how many versions. 404 for an unknown SKU.
enum ExplainEndpoint {
    static func addRoutes(to router: Router<BasicRequestContext>, store: StockStore) {
        router.get("/explain/:sku") { request, context -> Response in
            try await explain(sku: try context.parameters.require("sku"), request: request, store: store)
        }
        router.get("/explain") { request, _ -> Response in
            guard let sku = request.uri.queryParameters.get("sku") else {
                return text(.badRequest, "pass the SKU: /explain/<sku> or /explain?sku=<sku>\n")
            }
            return try await explain(sku: sku, request: request, store: store)
        }
    }

    private static func explain(sku: String, request: Request, store: StockStore) async throws -> Response {
        let limit = request.uri.queryParameters.get("limit").flatMap(Int.init) ?? 20
        guard (1...200).contains(limit) else { return text(.badRequest, "limit must be 1…200\n") }
        guard let explanation = try await store.explain(sku: sku, limit: limit) else {
            return text(.notFound, "unknown SKU '\(sku)'\n")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(explanation))))
    }

    private static func text(_ status: HTTPResponse.Status, _ body: String) -> Response {
        Response(
            status: status, headers: [.contentType: "text/plain; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
