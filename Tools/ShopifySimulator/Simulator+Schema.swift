import Foundation
import ShopifySchema

extension Simulator {
    /// Every request's document and variables, checked against Shopify's published Admin schema (2026-04, vendored
    /// with `ShopifySchema`) before the simulator reads them: a field, argument, type or variable Shopify would refuse
    /// is refused here the same way (HTTP 200, `errors` with graphql-ruby's messages and codes, no `data`), even where
    /// the simulator's own reading would have taken it. The simulator is our mirror of Shopify, written by the same
    /// hands as the exporter; this check is what it cannot share our blind spots on.
    ///
    /// Returns the errors' JSON (in the simulator's `JSONValue`) and the first error's code, or nil when Shopify
    /// would run the request.
    static func schemaErrors(body: [UInt8]) -> (errors: [JSONValue], code: String)? {
        let validator: SchemaValidator
        do {
            validator = try AdminSchema.sharedValidator()
        } catch {
            // A simulator without its schema must not pass as strict: say so on every request.
            return ([["message": .string("simulator: Shopify's schema could not be loaded: \(error)"), "extensions": ["code": "SIMULATOR_SCHEMA_MISSING"]]], "SIMULATOR_SCHEMA_MISSING")
        }
        guard case .object(let request)? = try? ShopifySchema.JSONValue.parse(Data(body)) else {
            return nil  // not a JSON object: the simulator's own reading answers it
        }
        guard case .string(let document)? = request["query"] else { return nil }
        var variables = ShopifySchema.JSONObject()
        if case .object(let given)? = request["variables"] { variables = given }
        var operationName: String?
        if case .string(let name)? = request["operationName"] { operationName = name }
        switch validator.validate(document: document, variables: variables, operationName: operationName) {
        case .success:
            return nil
        case .failure(let failure):
            let errors = failure.errors.map { JSONValue(schema: $0.jsonValue) }
            return (errors, failure.errors.first?.code ?? "PARSE_ERROR")
        }
    }
}

extension JSONValue {
    /// The simulator's JSON value of a `ShopifySchema` one.
    init(schema value: ShopifySchema.JSONValue) {
        switch value {
        case .null: self = .null
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(Int64(i))
        case .double(let d): self = .double(d)
        case .string(let s): self = .string(s)
        case .array(let a): self = .array(a.map { JSONValue(schema: $0) })
        case .object(let o): self = .object(Dictionary(o.map { ($0.key, JSONValue(schema: $0.value)) }, uniquingKeysWith: { a, _ in a }))
        }
    }
}
