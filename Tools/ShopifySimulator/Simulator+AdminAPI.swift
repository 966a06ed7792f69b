import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

extension Simulator {
    /// Answers `POST /shops/<domain>/admin/api/<version>/graphql.json` as Shopify would.
    ///
    /// Order: shop known (404) → token (401) → request valid against Shopify's Admin schema, then readable by the
    /// simulator (200 `errors`) → single-query cost maximum → cost (THROTTLED / 429) →
    /// idempotency key (replay, userError) → faults (hang, latency, 5xx; nothing applied) → run.
    func handleGraphQL(shop domain: String, apiVersion: String, token: String?, body: [UInt8]) async -> Response {
        let started = Date()
        let faults: ShopFaults
        switch await state.authorize(shop: domain, token: token) {
        case .unknownShop:
            return Self.response(404, #"{"errors":"Not Found"}"#)
        case .unauthorized:
            await logCall(domain, apiVersion, "unknown", 401, "unauthorized", nil, 0, nil, .null, started)
            return Self.response(401, #"{"errors":"[API] Invalid API key or access token (unrecognized login or wrong password)"}"#)
        case .authorized(let f):
            faults = f
        }
        if let state = faults.state {
            let (status, body) = state.answer
            await logCall(domain, apiVersion, "unknown", status, state.rawValue, nil, 0, nil, .null, started)
            return Self.response(status, body)
        }

        let parsed: JSONValue
        do {
            parsed = try JSONValue.parse(body)
        } catch {
            await logCall(domain, apiVersion, "unknown", 400, "BAD_REQUEST", nil, 0, nil, .null, started)
            return Self.response(400, #"{"errors":"Bad Request: body is not valid JSON"}"#)
        }
        let variables = parsed["variables"] ?? .null
        if let (errors, code) = Self.schemaErrors(body: body) {
            let name = (parsed["query"]?.stringValue).flatMap { try? GraphQLDocument(parsing: $0).rootField } ?? "unknown"
            await logCall(domain, apiVersion, name, 200, code, nil, 0, nil, variables, started)
            return Self.graphQL(errors: errors, cost: await state.costOnly(shop: domain))
        }
        let operation: AdminOperation
        do {
            operation = try AdminOperation(body: parsed)
        } catch {
            let name = (parsed["query"]?.stringValue).flatMap { try? GraphQLDocument(parsing: $0).rootField } ?? "unknown"
            await logCall(domain, apiVersion, name, 200, error.code, nil, 0, nil, variables, started)
            return Self.graphQL(errors: [error.json], cost: await state.costOnly(shop: domain))
        }
        let key = operation.idempotencyKey
        let quantities = Self.loggedQuantities(operation)
        let requested = await state.requestedCost(of: operation, shop: domain)
        if requested > AdminOperation.maximumQueryCost {
            await logCall(domain, apiVersion, operation.name, 200, "MAX_COST_EXCEEDED", key, requested, quantities, variables, started)
            return Self.graphQL(
                errors: [AdminOperation.maxCostExceeded(requested).json],
                cost: await state.costOnly(shop: domain, requested: requested))
        }

        switch await state.admit(shop: domain, operation: operation) {
        case .throttled(let throttleCost, let retryAfter, let as429):
            await logCall(
                domain, apiVersion, operation.name, as429 ? 429 : 200, "throttled", key, requested, quantities, variables, started,
                retryAfter: as429 ? retryAfter : nil)
            let errors = [GraphQLError(message: "Throttled", code: "THROTTLED").json]
            return Self.graphQL(errors: errors, cost: throttleCost, status: as429 ? 429 : 200, retryAfter: as429 ? retryAfter : nil)
        case .answer(let data, let answerCost, let result):
            await logCall(domain, apiVersion, operation.name, 200, result, key, requested, quantities, variables, started)
            return Self.graphQL(data: data, cost: answerCost)
        case .run:
            break
        }

        // Faults: the request was admitted, nothing has run yet.
        let hangingNow = (try? await state.faults(of: domain))?.hang ?? false
        if faults.hang || hangingNow {
            let deadline = ContinuousClock.now + .seconds(configuration.maxHangSeconds)
            while (try? await state.faults(of: domain))?.hang ?? false {
                if ContinuousClock.now >= deadline || Task.isCancelled {
                    if let key { await state.abandon(shop: domain, key: key, failed: true) }
                    await logCall(domain, apiVersion, operation.name, 503, "hang-timeout", key, requested, quantities, variables, started)
                    return Self.response(503, #"{"errors":"Service Unavailable"}"#)
                }
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
        let current = (try? await state.faults(of: domain)) ?? faults
        if current.latencyMs > 0 { try? await Task.sleep(for: .milliseconds(current.latencyMs)) }
        if current.errorRate > 0, Double.random(in: 0..<1) < current.errorRate {
            if let key { await state.abandon(shop: domain, key: key, failed: false) }
            let status = Bool.random() ? 502 : 503
            await logCall(domain, apiVersion, operation.name, status, "fault-\(status)", key, requested, quantities, variables, started)
            return Self.response(status, status == 502 ? #"{"errors":"Bad Gateway"}"# : #"{"errors":"Service Unavailable"}"#)
        }

        let (result, outcome, finalCost, appliedOrder) = await state.execute(shop: domain, operation: operation)
        await logCall(
            domain, apiVersion, operation.name, 200, outcome, key, requested, quantities, variables, started,
            appliedOrder: appliedOrder)
        switch result {
        case .success(let data): return Self.graphQL(data: data, cost: finalCost)
        case .failure(let error): return Self.graphQL(errors: [error.json], cost: finalCost)
        }
    }

    private func logCall(
        _ shop: String, _ apiVersion: String, _ operation: String, _ status: Int, _ result: String, _ key: String?,
        _ requested: Double, _ quantities: [LoggedQuantity]?, _ variables: JSONValue, _ started: Date, retryAfter: Int? = nil,
        appliedOrder: Int? = nil
    ) async {
        var summary = variables.jsonString
        if summary.count > 2_000 { summary = String(summary.prefix(2_000)) + "…" }
        let time = Timestamp.precise(Date())
        await state.log { sequence in
            WriteLogEntry(
                sequence: sequence, time: time, shop: shop, apiVersion: apiVersion, operation: operation, httpStatus: status,
                result: result, idempotencyKey: key, requestedCost: requested, quantities: quantities, variables: summary,
                retryAfter: retryAfter, appliedOrder: appliedOrder)
        }
    }

    private static func loggedQuantities(_ operation: AdminOperation) -> [LoggedQuantity]? {
        guard case .setQuantities(let input, _) = operation else { return nil }
        return input.quantities.map {
            LoggedQuantity(
                inventoryItemId: $0.inventoryItemId, locationId: $0.locationId, quantity: $0.quantity,
                changeFromQuantity: $0.changeFromQuantity)
        }
    }

    // MARK: - Responses

    static func graphQL(
        data: JSONValue? = nil, errors: [JSONValue]? = nil, cost: JSONValue, status: Int = 200, retryAfter: Int? = nil
    ) -> Response {
        var body: [String: JSONValue] = ["extensions": ["cost": cost]]
        if let data { body["data"] = data }
        if let errors { body["errors"] = .array(errors) }
        return response(status, JSONValue.object(body).bytes, retryAfter: retryAfter)
    }

    static func response(_ status: Int, _ text: String, retryAfter: Int? = nil) -> Response {
        response(status, Array(text.utf8), retryAfter: retryAfter)
    }

    static func response(_ status: Int, _ bytes: [UInt8], retryAfter: Int? = nil) -> Response {
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        if let retryAfter { headers[HTTPField.Name("Retry-After")!] = String(retryAfter) }
        return Response(
            status: HTTPResponse.Status(code: status), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
