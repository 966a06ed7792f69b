/// A top-level GraphQL `errors` entry: `{"message": …, "extensions": {"code": …, …}}`.
struct GraphQLError: Error, Sendable {
    var message: String
    var code: String
    var extensions: [String: JSONValue] = [:]

    var json: JSONValue {
        var ext = extensions
        ext["code"] = .string(code)
        return ["message": .string(message), "extensions": .object(ext)]
    }

    static func undefinedField(_ field: String, on type: String, supported: [String]) -> GraphQLError {
        GraphQLError(
            message: "Field '\(field)' doesn't exist on type '\(type)' (the simulator supports: \(supported.joined(separator: ", ")))",
            code: "undefinedField", extensions: ["typeName": .string(type), "fieldName": .string(field)])
    }

    static func invalidVariable(_ name: String, type: String, value: JSONValue?, problem: String, path: [String] = [])
        -> GraphQLError
    {
        GraphQLError(
            message: "Variable $\(name) of type \(type) was provided invalid value" + (path.isEmpty ? "" : " for \(path.joined(separator: "."))")
                + " (\(problem))",
            code: "INVALID_VARIABLE",
            extensions: [
                "value": value ?? .null,
                "problems": [["path": .array(path.map { .string($0) }), "explanation": .string(problem)]],
            ])
    }
}
