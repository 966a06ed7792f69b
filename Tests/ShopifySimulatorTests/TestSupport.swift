import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import ShopifySimulator

let shopA = "acme.myshopify.com"
let shopB = "bravo.myshopify.com"
let tokenA = "shpat_acme"
let secretA = "acme-webhook-secret"

/// A simulator with two shops; optional ingest URL, plan and webhook subscriptions for shop A.
func startSimulator(
    ingestURL: String? = nil, planA: RateLimitPlan = .standard, topicsA: Set<String>? = nil
) async throws -> Simulator {
    try await Simulator.start(
        SimulatorConfiguration(
            shops: [
                ShopConfiguration(
                    domain: shopA, accessToken: tokenA, webhookSecret: secretA, plan: planA, locationID: 70_001,
                    webhookTopics: topicsA),
                ShopConfiguration(domain: shopB, accessToken: "shpat_bravo", webhookSecret: "bravo-secret", locationID: 70_002),
            ],
            ingestURL: ingestURL))
}

/// Runs `body` with a started simulator and always shuts it down.
func withSimulator<T>(
    ingestURL: String? = nil, planA: RateLimitPlan = .standard, topicsA: Set<String>? = nil,
    _ body: (Simulator) async throws -> T
) async throws -> T {
    let sim = try await startSimulator(ingestURL: ingestURL, planA: planA, topicsA: topicsA)
    do {
        let result = try await body(sim)
        await sim.shutdown()
        return result
    } catch {
        await sim.shutdown()
        throw error
    }
}

struct HTTPAnswer {
    var status: Int
    var headers: [String: String]
    var json: JSONValue
    var text: String
}

/// A real HTTP request against the simulator's port.
func http(_ method: HTTPMethod, _ url: String, headers: [String: String] = [:], body: JSONValue? = nil) async throws -> HTTPAnswer {
    var request = HTTPClientRequest(url: url)
    request.method = method
    for (name, value) in headers { request.headers.add(name: name, value: value) }
    if let body {
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: body.bytes))
    }
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(15))
    let bytes = try await response.body.collect(upTo: 32 << 20)
    var fields: [String: String] = [:]
    for header in response.headers { fields[header.name.lowercased()] = header.value }
    let text = String(buffer: bytes)
    return HTTPAnswer(status: Int(response.status.code), headers: fields, json: (try? JSONValue.parse(text)) ?? .null, text: text)
}

/// POSTs a GraphQL request to a shop.
func graphQL(
    _ sim: Simulator, shop: String = shopA, token: String = tokenA, _ query: String, _ variables: JSONValue = [:]
) async throws -> HTTPAnswer {
    try await http(
        .POST, sim.graphQLURL(shop: shop, apiVersion: "2026-10"), headers: ["X-Shopify-Access-Token": token],
        body: ["query": .string(query), "variables": variables])
}

let setQuantitiesMutation = """
    mutation Set($input: InventorySetQuantitiesInput!, $key: String!) {
      inventorySetQuantities(input: $input) @idempotent(key: $key) {
        inventoryAdjustmentGroup { reason referenceDocumentUri changes { name delta quantityAfterChange item { id } location { id } } }
        userErrors { code field message }
      }
    }
    """

func quantity(_ variant: ProductVariant, _ quantity: Int, from: Int?, location: Int64 = 70_001) -> JSONValue {
    [
        "inventoryItemId": .string(variant.inventoryItemGID),
        "locationId": .string("gid://shopify/Location/\(location)"),
        "quantity": .int(Int64(quantity)),
        "changeFromQuantity": from.map { .int(Int64($0)) } ?? .null,
    ]
}

func setInput(_ quantities: [JSONValue], key: String = UUID().uuidString) -> JSONValue {
    [
        "input": [
            "name": "available", "reason": "correction", "referenceDocumentUri": "gid://stockwire/StockVersion/SKU/1",
            "quantities": .array(quantities),
        ],
        "key": .string(key),
    ]
}

extension JSONValue {
    /// Walks a path of object keys and array indexes ("data.x.0.y").
    func at(_ path: String) -> JSONValue? {
        var current: JSONValue? = self
        for part in path.split(separator: ".") {
            if let index = Int(part), let array = current?.arrayValue {
                current = index < array.count ? array[index] : nil
            } else {
                current = current?[String(part)]
            }
        }
        return current
    }

    var userErrorCodes: [String] {
        (at("data.inventorySetQuantities.userErrors")?.arrayValue ?? []).compactMap { $0["code"]?.stringValue }
    }
}
