import AsyncHTTPClient
import ExporterCore
import Foundation
import Logging
import Metrics
import NIOCore
import ServiceKit

/// The few Admin GraphQL calls the exporter makes to one shop.
///
/// Every answer is sorted into what the caller must do: use the data, wait (throttled), retry later (transient),
/// pause the shop (token refused), or give up on this request (a GraphQL error).
struct AdminAPIClient: Sendable {
    /// Shopify's `extensions.cost.throttleStatus`, sent with every GraphQL answer.
    typealias ThrottleStatus = ShopPlatform.ThrottleStatus
    /// Shopify's `extensions.cost` of one answer.
    typealias CostReport = ShopPlatform.CostReport
    /// Why a call produced no data: 401 is `unauthorized`; THROTTLED or 429 `throttled`; 5xx, a timeout or a dropped
    /// connection `transient`; an `errors` array other than THROTTLED `rejected`; 402, 403, 404, 423 and
    /// `ACCESS_DENIED` `refused` (``Refusal``); `MAX_COST_EXCEEDED` `tooCostly`.
    typealias Failure = ShopPlatform.Failure
    /// A user error of `inventorySetQuantities`.
    typealias UserError = ShopPlatform.UserError
    /// One quantity of an `inventorySetQuantities` call.
    typealias Quantity = ShopPlatform.Quantity
    /// A product variant found by SKU (`inventoryPolicy == CONTINUE` is `continueSelling`).
    typealias Variant = ShopPlatform.Variant
    /// A location of the shop.
    typealias Location = ShopPlatform.Location

    /// A state in which Shopify refuses every request of the shop (https://shopify.dev/docs/api/usage/response-codes).
    enum Refusal: Sendable, Equatable {
        /// 402 Payment Required.
        case frozen
        /// 423 Locked.
        case locked
        /// 404 Not Found.
        case closed
        /// 403 Forbidden: the app lacks a scope; Shopify's message.
        case scopeMissing(String)
        /// A GraphQL `ACCESS_DENIED` error: the token lacks a field's access scope; Shopify's message.
        case accessDenied(String)

        /// The state's name, for logs and the metric's `state` label.
        var name: String {
            switch self {
            case .frozen: return "frozen"
            case .locked: return "locked"
            case .closed: return "closed"
            case .scopeMissing: return "scope_missing"
            case .accessDenied: return "access_denied"
            }
        }

        /// What it means and what fixes it.
        var reason: String {
            switch self {
            case .frozen:
                return "shop frozen (402 Payment Required): its owner must pay the outstanding balance in the shop's admin"
            case .locked: return "shop locked by Shopify (423 Locked): its owner must contact Shopify"
            case .closed: return "shop not found (404): closed, or the domain in the shops file is wrong"
            case .scopeMissing(let message):
                return "a scope is missing (403 Forbidden: \(message)): grant the app read_inventory, write_inventory, "
                    + "read_products and read_locations, then reinstall it"
            case .accessDenied(let message):
                return "access denied (\(message)): grant the app the scope named, then reinstall it"
            }
        }

        /// The failure that pauses the shop in this state.
        var failure: Failure { .refused(ShopPlatform.Refusal(name: name, reason: reason)) }
    }

    let shop: ShopSettings
    let http: HTTPClient
    let timeout: Duration
    /// How long Shopify takes to answer, per operation (`stockwire_exporter_admin_api_seconds`): what the shop adds to
    /// the end-to-end time, apart from Stockwire's own (a slow shop shows here, not as a slow exporter).
    private let timers: [String: Metrics.Timer]

    init(shop: ShopSettings, http: HTTPClient, timeout: Duration) {
        self.shop = shop
        self.http = http
        self.timeout = timeout
        timers = Dictionary(
            uniqueKeysWithValues: ["set_quantities", "levels", "variants", "locations"].map {
                (
                    $0,
                    Metrics.Timer(
                        label: "stockwire_exporter_admin_api_seconds", dimensions: [("shop", shop.domain.description), ("operation", $0)])
                )
            })
    }

    // MARK: - Calls

    static let setQuantitiesMutation = """
        mutation StockwireSetQuantities($input: InventorySetQuantitiesInput!, $key: String!) { \
        inventorySetQuantities(input: $input) @idempotent(key: $key) { \
        inventoryAdjustmentGroup { reason referenceDocumentUri changes { name delta quantityAfterChange \
        item { id } location { id } } } userErrors { code field message } } }
        """

    /// The SKU lookup: variants whose SKU matches, with what decides whether a level protects them.
    static let variantsQuery = """
        query StockwireVariants($first: Int!, $query: String!) { productVariants(first: $first, query: $query) \
        { nodes { id sku inventoryPolicy requiresComponents inventoryItem { id tracked } } } }
        """

    /// The shop's locations, with whether each is active and fulfils online orders.
    static let locationsQuery = """
        query StockwireLocations($first: Int!) { locations(first: $first) { nodes { id name isActive \
        fulfillsOnlineOrders } } }
        """

    /// The available level of inventory items at one location.
    static let levelsQuery = """
        query StockwireLevels($ids: [ID!]!, $locationId: ID!) { nodes(ids: $ids) { ... on InventoryItem { id \
        inventoryLevel(locationId: $locationId) { quantities(names: ["available"]) { name quantity } } } } }
        """

    /// Sets available quantities (compare-and-set through `changeFromQuantity`); returns the user errors (empty
    /// when applied) and the throttle status.
    func setQuantities(
        _ quantities: [Quantity], reason: String, referenceDocumentUri: String, idempotencyKey: String
    ) async throws -> ([UserError], CostReport?) {
        let input: [String: Any] = [
            "name": "available", "reason": reason, "referenceDocumentUri": referenceDocumentUri,
            "quantities": quantities.map { q -> [String: Any] in
                [
                    "inventoryItemId": q.inventoryItemId, "locationId": q.locationId, "quantity": q.quantity,
                    "changeFromQuantity": q.changeFromQuantity.map { $0 as Any } ?? NSNull(),
                ]
            },
        ]
        let (data, status) = try await call(
            "set_quantities", Self.setQuantitiesMutation, variables: ["input": input, "key": idempotencyKey])
        guard let result = (data["inventorySetQuantities"] as? [String: Any]) else {
            throw Failure.rejected("inventorySetQuantities returned no result")
        }
        let errors = (result["userErrors"] as? [[String: Any]] ?? []).map { e in
            UserError(
                code: e["code"] as? String, field: (e["field"] as? [Any] ?? []).map { "\($0)" },
                message: e["message"] as? String ?? "", kind: Self.kind(of: e["code"] as? String))
        }
        return (errors, status)
    }

    /// The variants whose SKU is exactly `sku` (Shopify's search may match more loosely).
    func variants(sku: String) async throws -> ([Variant], CostReport?) {
        let escaped = sku.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        let (data, status) = try await call(
            "variants", Self.variantsQuery, variables: ["first": 10, "query": "sku:\"\(escaped)\""])
        let nodes = ((data["productVariants"] as? [String: Any])?["nodes"] as? [[String: Any]]) ?? []
        let variants = nodes.compactMap { n -> Variant? in
            guard let variant = Self.variant(n), variant.sku == sku else { return nil }
            return variant
        }
        return (variants, status)
    }

    /// The shop's locations, with whether each is active and fulfils online orders.
    func locations() async throws -> [Location] {
        let (data, _) = try await call("locations", Self.locationsQuery, variables: ["first": 50])
        let nodes = ((data["locations"] as? [String: Any])?["nodes"] as? [[String: Any]]) ?? []
        return nodes.compactMap { n in
            guard let id = n["id"] as? String else { return nil }
            return Location(
                id: id, name: n["name"] as? String ?? "", isActive: n["isActive"] as? Bool ?? true,
                fulfillsOnlineOrders: n["fulfillsOnlineOrders"] as? Bool ?? true)
        }
    }

    /// The available level of each item at `locationId` (items not stocked there are absent).
    func levels(items: [String], locationId: String) async throws -> ([String: Int64], CostReport?) {
        let (data, status) = try await call("levels", Self.levelsQuery, variables: ["ids": items, "locationId": locationId])
        var out: [String: Int64] = [:]
        for node in data["nodes"] as? [Any] ?? [] {
            guard let n = node as? [String: Any], let id = n["id"] as? String,
                let level = n["inventoryLevel"] as? [String: Any],
                let quantities = level["quantities"] as? [[String: Any]],
                let available = quantities.first(where: { $0["name"] as? String == "available" }),
                let q = (available["quantity"] as? NSNumber)?.int64Value
            else { continue }
            out[id] = q
        }
        return (out, status)
    }

    // MARK: - Transport

    func call(_ operation: String, _ query: String, variables: [String: Any]) async throws -> (
        [String: Any], CostReport?
    ) {
        let token: String
        do {
            token = try Environment.secret(file: shop.tokenFile, purpose: "shop \(shop.domain) Admin API token")
        } catch {
            throw Failure.unauthorized
        }
        var request = HTTPClientRequest(url: shop.graphQLURL)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "X-Shopify-Access-Token", value: token)
        request.headers.add(name: "User-Agent", value: "Stockwire/1")
        let body = try JSONSerialization.data(withJSONObject: ["query": query, "variables": variables])
        request.body = .bytes(ByteBuffer(bytes: body))

        let response: HTTPClientResponse
        let bytes: ByteBuffer
        let started = ContinuousClock.now
        do {
            let (s, a) = timeout.components
            response = try await http.execute(
                request, timeout: .nanoseconds(s * 1_000_000_000 + a / 1_000_000_000))
            bytes = try await response.body.collect(upTo: 16 << 20)
            let (seconds, attoseconds) = started.duration(to: .now).components
            timers[operation]?.recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        } catch {
            throw Failure.transient("\(shop.domain): \(error)")
        }
        switch response.status.code {
        case 200: break
        case 401: throw Failure.unauthorized
        case 402: throw Refusal.frozen.failure
        case 403: throw Refusal.scopeMissing(Self.errorText(bytes)).failure
        case 404: throw Refusal.closed.failure
        case 423: throw Refusal.locked.failure
        case 429:
            let retry = response.headers.first(name: "Retry-After").flatMap(Double.init).map {
                Duration.milliseconds(Int64($0 * 1000))
            }
            throw Failure.throttled(retryAfter: retry, status: nil)
        case 500...599: throw Failure.transient("\(shop.domain): HTTP \(response.status.code)")
        default: throw Failure.rejected("\(shop.domain): HTTP \(response.status.code)")
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: bytes)) as? [String: Any] else {
            throw Failure.transient("\(shop.domain): answer is not JSON")
        }
        let report = Self.costReport(object)
        let status = report?.throttle
        if let errors = object["errors"] as? [[String: Any]], !errors.isEmpty {
            let codes = errors.compactMap { ($0["extensions"] as? [String: Any])?["code"] as? String }
            if codes.contains("THROTTLED") { throw Failure.throttled(retryAfter: nil, status: status) }
            if let costly = errors.first(where: {
                ($0["extensions"] as? [String: Any])?["code"] as? String == "MAX_COST_EXCEEDED"
            }) {
                throw Failure.tooCostly(cost: ((costly["extensions"] as? [String: Any])?["cost"] as? NSNumber)?.doubleValue)
            }
            let messages = errors.compactMap { $0["message"] as? String }.joined(separator: "; ")
            if codes.contains("ACCESS_DENIED") { throw Refusal.accessDenied(messages).failure }
            throw Failure.rejected("\(shop.domain): \(messages)")
        }
        if let errors = object["errors"] as? String { throw Failure.rejected("\(shop.domain): \(errors)") }
        return (object["data"] as? [String: Any] ?? [:], report)
    }

    /// The `errors` text of a refusal's body, cut short; "" when there is none.
    static func errorText(_ bytes: ByteBuffer) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: bytes)) as? [String: Any] else { return "" }
        return String((object["errors"] as? String ?? "").prefix(200))
    }

    /// The `extensions.cost` of an answer, nil when it has none.
    static func costReport(_ object: [String: Any]) -> CostReport? {
        guard let cost = (object["extensions"] as? [String: Any])?["cost"] as? [String: Any] else { return nil }
        var throttle: ThrottleStatus?
        if let t = cost["throttleStatus"] as? [String: Any],
            let maximum = (t["maximumAvailable"] as? NSNumber)?.doubleValue,
            let current = (t["currentlyAvailable"] as? NSNumber)?.doubleValue,
            let rate = (t["restoreRate"] as? NSNumber)?.doubleValue
        {
            throttle = ThrottleStatus(maximumAvailable: maximum, currentlyAvailable: current, restoreRate: rate)
        }
        return CostReport(
            requestedQueryCost: (cost["requestedQueryCost"] as? NSNumber)?.doubleValue,
            actualQueryCost: (cost["actualQueryCost"] as? NSNumber)?.doubleValue, throttle: throttle)
    }
}
