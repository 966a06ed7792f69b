/// One element of an error's `path`: a key (field, argument, operation like "query Name") or a list index.
public enum PathSegment: Sendable, Hashable, CustomStringConvertible, ExpressibleByStringLiteral,
    ExpressibleByIntegerLiteral
{
    case key(String)
    case index(Int)

    public init(stringLiteral value: String) { self = .key(value) }
    public init(integerLiteral value: Int) { self = .index(value) }

    public var description: String {
        switch self {
        case .key(let key): return key
        case .index(let index): return String(index)
        }
    }

    var jsonValue: JSONValue {
        switch self {
        case .key(let key): return .string(key)
        case .index(let index): return .int(index)
        }
    }
}

/// An error as Shopify's GraphQL server (graphql-ruby) reports it in the response's `errors` array:
///
///     {"message": "...", "locations": [{"line": 1, "column": 3}], "path": ["query", "x"],
///      "extensions": {"code": "undefinedField", "typeName": "QueryRoot", "fieldName": "x"}}
///
/// Static validation errors have a `code` (graphql-ruby's static-validation codes, e.g. `undefinedField`), variable
/// errors have `INVALID_VARIABLE` (Shopify's addition to graphql-ruby's variable errors). Syntax errors and the
/// operation-name errors have no code and no extensions, as in graphql-ruby.
public struct GraphQLValidationError: Error, Sendable, Hashable, CustomStringConvertible, Encodable {
    public var message: String
    /// Where the error is. Empty for errors about no particular place (operation-name errors, an empty document),
    /// and then left out of `jsonValue`, as graphql-ruby leaves it out.
    public var locations: [DocumentLocation]
    /// Nil when graphql-ruby gives no `path` (syntax errors, variable errors); static validation errors always
    /// have one, possibly empty.
    public var path: [PathSegment]?
    /// `extensions.code`.
    public var code: String?
    /// The other `extensions` entries, after `code`, in graphql-ruby's order.
    public var extras: JSONObject

    public init(
        message: String, locations: [DocumentLocation], path: [PathSegment]? = nil, code: String? = nil,
        extras: JSONObject = [:]
    ) {
        self.message = message
        self.locations = locations
        self.path = path
        self.code = code
        self.extras = extras
    }

    /// `extensions`: `code` first, then the extras; nil when there is neither.
    public var extensions: JSONObject? {
        if code == nil && extras.isEmpty { return nil }
        var out = JSONObject()
        if let code { out["code"] = .string(code) }
        for (key, value) in extras { out[key] = value }
        return out
    }

    /// The error as a response's `errors` entry.
    public var jsonValue: JSONValue {
        var out: JSONObject = ["message": .string(message)]
        if !locations.isEmpty {
            out["locations"] = .array(
                locations.map { .object(["line": .int($0.line), "column": .int($0.column)]) })
        }
        if let path { out["path"] = .array(path.map(\.jsonValue)) }
        if let extensions { out["extensions"] = .object(extensions) }
        return .object(out)
    }

    public func encode(to encoder: any Encoder) throws {
        try jsonValue.encode(to: encoder)
    }

    public var description: String {
        let at = locations.map(\.description).joined(separator: ", ")
        return "\(code.map { "[\($0)] " } ?? "")\(message)\(at.isEmpty ? "" : " @ \(at)")"
    }
}

/// The errors of a refused request, in the order Shopify gives them. Never empty.
public struct GraphQLValidationFailure: Error, Sendable, CustomStringConvertible {
    public let errors: [GraphQLValidationError]

    public init(errors: [GraphQLValidationError]) {
        precondition(!errors.isEmpty, "a validation failure has at least one error")
        self.errors = errors
    }

    /// The response body Shopify would send: `{"errors": [...]}`.
    public var responseBody: JSONValue {
        .object(["errors": .array(errors.map(\.jsonValue))])
    }

    public var description: String {
        errors.map(\.description).joined(separator: "\n")
    }
}
