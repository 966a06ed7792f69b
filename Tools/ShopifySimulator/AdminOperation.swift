import Foundation

/// A supported Admin GraphQL request, read from the query text (root field) and the variables (every input).
///
/// Anything else — another root field, a missing or mistyped variable, a missing `@idempotent` — is a
/// ``GraphQLError`` answered as Shopify answers it (HTTP 200, `errors` array), never a guess.
enum AdminOperation: Sendable {
    case setQuantities(SetQuantitiesInput, idempotencyKey: String)
    case productVariants(first: Int, sku: String?, after: Int?)
    case locations(first: Int)
    /// `currentAppInstallation { accessScopes { handle } }`.
    case appInstallation
    case inventoryItemNodes(ids: [String], locationID: String?, names: [String])

    /// Supported root fields, for error messages.
    static let queryFields = ["productVariants", "locations", "nodes", "currentAppInstallation"]
    static let mutationFields = ["inventorySetQuantities"]

    /// The operation's name in the write log.
    var name: String {
        switch self {
        case .setQuantities: return "inventorySetQuantities"
        case .productVariants: return "productVariants"
        case .appInstallation: return "currentAppInstallation"
        case .locations: return "locations"
        case .inventoryItemNodes: return "nodes"
        }
    }

    /// Points reserved before running, by Shopify's cost rules
    /// (https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits#cost-calculation): scalars and enums 0, an
    /// object 1, a connection 2 plus `first` times the cost of one node, an interface the most of its selections, a
    /// mutation 10. The simulator answers each root field with a fixed shape, so the node costs are those shapes':
    /// a `ProductVariant` with its `inventoryItem` object (2), a `Location` (1), an `InventoryItem` with its
    /// `inventoryLevel` and that level's `quantities` list (3).
    var requestedCost: Double {
        switch self {
        case .setQuantities: return 10
        case .productVariants(let first, _, _): return Self.connectionCost(first, node: Self.variantNodeCost)
        case .appInstallation: return 2  // the installation and its scopes
        case .locations(let first): return Self.connectionCost(first, node: Self.locationNodeCost)
        case .inventoryItemNodes(let ids, _, _): return Self.itemNodesCost(ids.count)
        }
    }

    static let variantNodeCost: Double = 2
    static let locationNodeCost: Double = 1
    static let inventoryItemNodeCost: Double = 3

    /// A connection of `count` nodes of cost `node` each (requested: `first`; actual: the nodes returned).
    static func connectionCost(_ count: Int, node: Double) -> Double { 2 + Double(count) * node }

    /// `nodes(ids:)` of `count` inventory items (requested: ids asked; actual: items found).
    static func itemNodesCost(_ count: Int) -> Double { Double(count) * inventoryItemNodeCost }

    /// Shopify runs no single query above this cost; it answers `MAX_COST_EXCEEDED` and charges nothing
    /// (https://shopify.dev/docs/api/usage/limits, "Maximum single query cost").
    static let maximumQueryCost: Double = 1_000

    /// The error for a query over ``maximumQueryCost``, worded as Shopify's.
    static func maxCostExceeded(_ cost: Double) -> GraphQLError {
        GraphQLError(
            message: "Query cost is \(Int(cost)), which exceeds the single query max cost limit (\(Int(maximumQueryCost))).",
            code: "MAX_COST_EXCEEDED", extensions: ["cost": .double(cost), "maxCost": .double(maximumQueryCost)])
    }

    var idempotencyKey: String? {
        if case .setQuantities(_, let key) = self { return key }
        return nil
    }

    // MARK: - Reading a request

    /// Reads `{"query": …, "variables": {…}}`.
    init(body: JSONValue) throws(GraphQLError) {
        guard let query = body["query"]?.stringValue else {
            throw GraphQLError(message: "No query string was present", code: "BAD_REQUEST")
        }
        let variables: [String: JSONValue]
        switch body["variables"] {
        case nil, .null?: variables = [:]
        case .object(let v)?: variables = v
        default: throw GraphQLError(message: "Variables must be a JSON object", code: "BAD_REQUEST")
        }
        let document: GraphQLDocument
        do {
            document = try GraphQLDocument(parsing: query)
        } catch {
            throw GraphQLError(message: error.message, code: "PARSE_ERROR")
        }
        var reader = ArgumentReader(document: document, variables: variables)
        switch (document.kind, document.rootField) {
        case (.mutation, "inventorySetQuantities"):
            self = try Self.readSetQuantities(&reader)
        case (.query, "productVariants"):
            let first = try reader.first()
            let search = try reader.optionalString("query")
            var sku: String? = nil
            if let search {
                guard let parsed = Self.skuSearch(search) else {
                    throw GraphQLError(
                        message: "The simulator supports only query: \"sku:<SKU>\" on productVariants (got \"\(search)\")",
                        code: "BAD_REQUEST")
                }
                sku = parsed
            }
            var after: Int? = nil
            if let cursor = try reader.optionalString("after") {
                guard let position = Int(cursor) else {
                    throw GraphQLError(message: "Invalid cursor for productVariants: \(cursor)", code: "BAD_REQUEST")
                }
                after = position
            }
            self = .productVariants(first: first, sku: sku, after: after)
        case (.query, "currentAppInstallation"):
            self = .appInstallation
        case (.query, "locations"):
            self = .locations(first: try reader.first())
        case (.query, "nodes"):
            let ids = try reader.idList("ids")
            var locationID: String? = nil
            var names = ["available"]
            if let levelArguments = try reader.nested("inventoryLevel") {
                locationID = try reader.id("locationId", in: levelArguments, field: "inventoryLevel")
            } else if document.selects("inventoryLevel") {
                throw GraphQLError(
                    message: "Field 'inventoryLevel' is missing required arguments: locationId", code: "missingRequiredArguments")
            }
            if let quantityArguments = try reader.nested("quantities") {
                names = try reader.stringList("names", in: quantityArguments, field: "quantities")
            }
            self = .inventoryItemNodes(ids: ids, locationID: locationID, names: names)
        case (.mutation, let field):
            throw GraphQLError.undefinedField(field, on: "Mutation", supported: Self.mutationFields)
        case (.query, let field):
            throw GraphQLError.undefinedField(field, on: "QueryRoot", supported: Self.queryFields)
        case (.subscription, _):
            throw GraphQLError(message: "Subscriptions are not supported", code: "BAD_REQUEST")
        }
        if let (argument, size) = inputArraySize, size > Self.maximumInputArraySize {
            throw GraphQLError(
                message: "The input array size of \(size) is greater than the maximum allowed of "
                    + "\(Self.maximumInputArraySize). (argument: \(argument))",
                code: "MAX_INPUT_SIZE_EXCEEDED")
        }
    }

    /// "Input arguments that accept an array have a maximum size of 250 for all APIs. Requests return an error if
    /// an input array exceeds 250 items" (https://shopify.dev/docs/api/usage/limits#input-limits; since 2020-01,
    /// https://shopify.dev/changelog/graphql-input-objects-limited-to-250-items): the whole request fails, nothing
    /// of it runs. The message and code are those apps report seeing; the docs give neither.
    static let maximumInputArraySize = 250

    /// The largest input array of the request, and its argument.
    var inputArraySize: (argument: String, size: Int)? {
        switch self {
        case .setQuantities(let input, _): return ("input.quantities", input.quantities.count)
        case .inventoryItemNodes(let ids, _, _): return ("ids", ids.count)
        case .productVariants, .locations, .appInstallation: return nil
        }
    }

    /// `sku:ABC`, `sku:"A B"` or `sku:'A B'` → the SKU.
    static func skuSearch(_ query: String) -> String? {
        let trimmed = query.trimmingCharacters(in: .whitespaces)
        guard trimmed.hasPrefix("sku:") else { return nil }
        var value = String(trimmed.dropFirst(4))
        if value.count >= 2, let q = value.first, q == "\"" || q == "'", value.last == q {
            value = String(value.dropFirst().dropLast())
        } else if value.contains(" ") || value.isEmpty {
            return nil
        }
        return value
    }

    private static let quantityFields: Set<String> = ["inventoryItemId", "locationId", "quantity", "changeFromQuantity"]
    private static let inputFields: Set<String> = ["name", "reason", "referenceDocumentUri", "quantities"]

    private static func readSetQuantities(_ reader: inout ArgumentReader) throws(GraphQLError) -> AdminOperation {
        guard let directive = reader.document.directives["idempotent"] else {
            throw GraphQLError(
                message: "The @idempotent directive is required for inventorySetQuantities (API 2026-04 and later): "
                    + "inventorySetQuantities(input: $input) @idempotent(key: $key)",
                code: "BAD_REQUEST")
        }
        let key = try reader.requiredString("key", in: directive, field: "@idempotent", type: "String!")
        guard !key.isEmpty else { throw GraphQLError(message: "The idempotency key must not be empty", code: "BAD_REQUEST") }
        let (variable, type, raw) = try reader.value("input", type: "InventorySetQuantitiesInput!")
        func bad(_ problem: String, _ path: [String] = []) -> GraphQLError {
            GraphQLError.invalidVariable(variable, type: type, value: raw, problem: problem, path: path)
        }
        guard let input = raw?.objectValue else { throw bad("Expected value to not be null") }
        for field in input.keys where !inputFields.contains(field) {
            throw bad("Field is not defined on InventorySetQuantitiesInput", [field])
        }
        guard let name = input["name"]?.stringValue else { throw bad("Expected value to be a String", ["name"]) }
        guard let reason = input["reason"]?.stringValue else { throw bad("Expected value to be a String", ["reason"]) }
        var uri: String? = nil
        if let value = input["referenceDocumentUri"], !value.isNull {
            guard let s = value.stringValue else { throw bad("Expected value to be a String", ["referenceDocumentUri"]) }
            uri = s
        }
        guard let list = input["quantities"]?.arrayValue else { throw bad("Expected value to be a list", ["quantities"]) }
        if list.count > 250 {
            throw GraphQLError(
                message: "The input array size of \(list.count) is greater than the maximum allowed of 250.",
                code: "MAX_INPUT_SIZE_EXCEEDED", extensions: ["path": ["inventorySetQuantities", "input", "quantities"]])
        }
        var quantities: [SetQuantitiesInput.Quantity] = []
        for (i, element) in list.enumerated() {
            let path = ["quantities", String(i)]
            guard let q = element.objectValue else { throw bad("Expected value to be an object", path) }
            for field in q.keys where !quantityFields.contains(field) {
                throw bad("Field is not defined on InventoryQuantityInput", path + [field])
            }
            guard let item = q["inventoryItemId"]?.stringValue else { throw bad("Expected value to be an ID", path + ["inventoryItemId"]) }
            guard GlobalID(item) != nil else { throw bad("Invalid global id '\(item)'", path + ["inventoryItemId"]) }
            guard let location = q["locationId"]?.stringValue else { throw bad("Expected value to be an ID", path + ["locationId"]) }
            guard GlobalID(location) != nil else { throw bad("Invalid global id '\(location)'", path + ["locationId"]) }
            guard let quantity = q["quantity"]?.intValue, let quantity32 = Int32(exactly: quantity) else {
                throw bad("Expected value to be an Int (32-bit)", path + ["quantity"])
            }
            guard let changeFrom = q["changeFromQuantity"] else {
                throw bad("changeFromQuantity is required on every quantity; pass null explicitly to skip the check", path + ["changeFromQuantity"])
            }
            var changeFromQuantity: Int? = nil
            if !changeFrom.isNull {
                guard let c = changeFrom.intValue, let c32 = Int32(exactly: c) else {
                    throw bad("Expected value to be an Int (32-bit) or null", path + ["changeFromQuantity"])
                }
                changeFromQuantity = Int(c32)
            }
            quantities.append(
                .init(inventoryItemId: item, locationId: location, quantity: Int(quantity32), changeFromQuantity: changeFromQuantity))
        }
        return .setQuantities(
            SetQuantitiesInput(name: name, reason: reason, referenceDocumentUri: uri, quantities: quantities, fingerprint: raw!),
            idempotencyKey: key)
    }
}

/// The `input` of `inventorySetQuantities`, type-checked.
struct SetQuantitiesInput: Sendable {
    struct Quantity: Sendable {
        var inventoryItemId: String
        var locationId: String
        var quantity: Int
        /// nil: explicit `null`, no compare-and-set check.
        var changeFromQuantity: Int?
    }

    var name: String
    var reason: String
    var referenceDocumentUri: String?
    var quantities: [Quantity]
    /// The input as sent, to tell "same input" from "different input" under one idempotency key.
    var fingerprint: JSONValue
}

/// `gid://shopify/<Type>/<id>`.
struct GlobalID: Sendable, Equatable {
    var type: String
    var id: Int64

    init?(_ text: String) {
        let prefix = "gid://shopify/"
        guard text.hasPrefix(prefix) else { return nil }
        let parts = text.dropFirst(prefix.count).split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, let id = Int64(parts[1].split(separator: "?").first ?? "") else { return nil }
        type = String(parts[0])
        self.id = id
    }
}

/// Resolves arguments against the declared variables, with Shopify-shaped errors.
struct ArgumentReader {
    let document: GraphQLDocument
    let variables: [String: JSONValue]

    /// (variable name or argument name, declared type, value) of a root-field argument.
    func value(_ argument: String, type expected: String) throws(GraphQLError) -> (String, String, JSONValue?) {
        try resolve(document.arguments[argument], argument: argument, field: document.rootField, type: expected)
    }

    func resolve(_ source: GraphQLDocument.Argument?, argument: String, field: String, type expected: String)
        throws(GraphQLError) -> (String, String, JSONValue?)
    {
        switch source {
        case nil:
            return (argument, expected, nil)
        case .literal(let value)?:
            return (argument, expected, value)
        case .variable(let name)?:
            guard let declared = document.variableTypes[name] else {
                throw GraphQLError(
                    message: "Variable $\(name) is used by \(field) but not declared", code: "variableNotDefined",
                    extensions: ["variableName": .string(name)])
            }
            let base = expected.hasSuffix("!") ? String(expected.dropLast()) : expected
            guard declared == expected || declared == base || declared == base + "!" else {
                throw GraphQLError(
                    message: "Type mismatch on variable $\(name) and argument \(argument) (\(declared) / \(expected))",
                    code: "variableMismatch")
            }
            return (name, declared, variables[name])
        }
    }

    func nested(_ field: String) throws(GraphQLError) -> [String: GraphQLDocument.Argument]? {
        do {
            return try document.nestedArguments(of: field)
        } catch {
            throw GraphQLError(message: error.message, code: "PARSE_ERROR")
        }
    }

    func first() throws(GraphQLError) -> Int {
        let (name, type, value) = try self.value("first", type: "Int")
        guard let value, !value.isNull else {
            throw GraphQLError(message: "you must provide one of first or last", code: "BAD_REQUEST")
        }
        guard let n = value.intValue, let n32 = Int32(exactly: n) else {
            throw GraphQLError.invalidVariable(name, type: type, value: value, problem: "Expected value to be an Int")
        }
        guard n32 >= 0, n32 <= 250 else {
            throw GraphQLError(message: "The 'first' argument must be between 0 and 250 (got \(n32))", code: "BAD_REQUEST")
        }
        return Int(n32)
    }

    func optionalString(_ argument: String) throws(GraphQLError) -> String? {
        let (name, type, value) = try self.value(argument, type: "String")
        guard let value, !value.isNull else { return nil }
        guard let s = value.stringValue else {
            throw GraphQLError.invalidVariable(name, type: type, value: value, problem: "Expected value to be a String")
        }
        return s
    }

    func requiredString(_ argument: String, in arguments: [String: GraphQLDocument.Argument], field: String, type: String)
        throws(GraphQLError) -> String
    {
        let (name, declared, value) = try resolve(arguments[argument], argument: argument, field: field, type: type)
        guard let s = value?.stringValue else {
            throw GraphQLError.invalidVariable(name, type: declared, value: value, problem: "Expected value to be a non-null String")
        }
        return s
    }

    func id(_ argument: String, in arguments: [String: GraphQLDocument.Argument], field: String) throws(GraphQLError) -> String {
        try requiredString(argument, in: arguments, field: field, type: "ID!")
    }

    func idList(_ argument: String) throws(GraphQLError) -> [String] {
        let (name, type, value) = try self.value(argument, type: "[ID!]!")
        guard let list = value?.arrayValue else {
            throw GraphQLError.invalidVariable(name, type: type, value: value, problem: "Expected value to be a list of IDs")
        }
        guard list.count <= 250 else {
            throw GraphQLError(
                message: "The input array size of \(list.count) is greater than the maximum allowed of 250.", code: "MAX_INPUT_SIZE_EXCEEDED")
        }
        var ids: [String] = []
        for element in list {
            guard let s = element.stringValue else {
                throw GraphQLError.invalidVariable(name, type: type, value: value, problem: "Expected value to be a list of IDs")
            }
            ids.append(s)
        }
        return ids
    }

    func stringList(_ argument: String, in arguments: [String: GraphQLDocument.Argument], field: String) throws(GraphQLError)
        -> [String]
    {
        let (name, type, value) = try resolve(arguments[argument], argument: argument, field: field, type: "[String!]")
        guard let value, !value.isNull else { return ["available"] }
        guard let list = value.arrayValue, list.allSatisfy({ $0.stringValue != nil }) else {
            throw GraphQLError.invalidVariable(name, type: type, value: value, problem: "Expected value to be a list of Strings")
        }
        return list.compactMap(\.stringValue)
    }
}
