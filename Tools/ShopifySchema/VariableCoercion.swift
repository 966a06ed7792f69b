/// Coercion of the request's JSON `variables` against the selected operation's variable definitions (spec
/// "CoerceVariableValues"), reporting problems exactly as graphql-ruby's `GraphQL::Query::Variables` and the
/// types' `validate_input` do, plus the `INVALID_VARIABLE` code Shopify adds:
///
///     {"message": "Variable $input of type InventorySetQuantitiesInput! was provided invalid value for
///                  quantities.0.quantity (Expected value to not be null)",
///      "locations": [{"line": 1, "column": 32}],
///      "extensions": {"code": "INVALID_VARIABLE", "value": {...as given...},
///                     "problems": [{"path": ["quantities", 0, "quantity"], "explanation": "Expected value to not be null"}]}}
///
/// Rules (graphql-ruby):
/// - a missing or null value for a non-null type: "Expected value to not be null". graphql-ruby checks the *given*
///   value, so a non-null variable with a default (`$n: Int! = 5`) must still be given.
/// - input objects: a non-object is "Expected <json> to be a key-value object."; each given field in the client's
///   order, an unknown one is "Field is not defined on <Type>"; then each missing required field (non-null, no
///   default), in schema order. Nested problems carry their path (`quantities.0.changeFromQuantity`).
/// - enums: the value must be one of the enum's names: "Expected \"X\" to be one of: A, B, C".
/// - lists: a single value counts as a one-item list; items are checked at their index.
/// - scalars: see `ScalarRules`.
struct VariableCoercer {
    let schema: Schema
    let scalars: ScalarRules

    /// A problem at `path` inside one variable's value.
    struct Problem {
        var path: [PathSegment]
        var explanation: String
        var message: String?

        var jsonValue: JSONValue {
            var out: JSONObject = ["path": .array(path.map(\.jsonValue)), "explanation": .string(explanation)]
            if let message { out["message"] = .string(message) }
            return .object(out)
        }
    }

    /// Checks and coerces all variables of `operation`; returns the coerced values (given values coerced, defaults
    /// for the missing ones that have one) and the errors, one per invalid variable, in declaration order.
    func coerce(_ provided: JSONObject, for operation: OperationDefinition) -> (JSONObject, [GraphQLValidationError]) {
        var coerced = JSONObject()
        var errors: [GraphQLValidationError] = []
        for definition in operation.variableDefinitions {
            // Variables of unknown or non-input types are left to static validation.
            guard let named = schema.type(named: definition.type.namedType), named.isInputType else { continue }
            let given = provided[definition.name]
            var problems: [Problem] = []
            var path: [PathSegment] = []
            let value = coerce(given, as: definition.type, path: &path, problems: &problems)
            if problems.isEmpty {
                if given != nil {
                    coerced[definition.name] = value
                } else if let defaultValue = definition.defaultValue {
                    coerced[definition.name] = defaultValue.constantJSON
                }
                continue
            }
            var message = "Variable $\(definition.name) of type \(definition.type) was provided invalid value"
            let fields = problems.filter { !$0.path.isEmpty }.map {
                "\($0.path.map(\.description).joined(separator: ".")) (\($0.explanation))"
            }
            if !fields.isEmpty { message += " for " + fields.joined(separator: ", ") }
            errors.append(
                GraphQLValidationError(
                    message: message, locations: [definition.location], code: "INVALID_VARIABLE",
                    extras: ["value": given ?? .null, "problems": .array(problems.map(\.jsonValue))]))
        }
        return (coerced, errors)
    }

    /// Checks `value` (nil: not given) against `type`, appending problems; returns the coerced value. `path` is
    /// where `value` is (restored on return).
    func coerce(_ value: JSONValue?, as type: TypeRef, path: inout [PathSegment], problems: inout [Problem]) -> JSONValue {
        guard let value, !value.isNull else {
            if type.isNonNull { problems.append(Problem(path: path, explanation: "Expected value to not be null")) }
            return .null
        }
        switch type {
        case .nonNull(let inner):
            return coerce(value, as: inner, path: &path, problems: &problems)
        case .list(let itemType):
            let items: [JSONValue]
            if case .array(let array) = value { items = array } else { items = [value] }
            var out: [JSONValue] = []
            out.reserveCapacity(items.count)
            for (index, item) in items.enumerated() {
                path.append(.index(index))
                out.append(coerce(item, as: itemType, path: &path, problems: &problems))
                path.removeLast()
            }
            return .array(out)
        case .named(let name):
            guard let named = schema.type(named: name) else { return value }
            switch named.kind {
            case .inputObject:
                return coerceInputObject(value, as: named, path: &path, problems: &problems)
            case .enumeration:
                if case .string(let string) = value, named.hasEnumValue(string) { return value }
                let allowed = named.enumValues.joined(separator: ", ")
                problems.append(
                    Problem(path: path, explanation: "Expected \(value.rubySerialized) to be one of: \(allowed)"))
                return value
            default:
                if let problem = scalars.check(.json(value), scalar: name) {
                    problems.append(Problem(path: path, explanation: problem.explanation, message: problem.message))
                    return value
                }
                return scalars.coerce(value, scalar: name)
            }
        }
    }

    private func coerceInputObject(
        _ value: JSONValue, as type: NamedType, path: inout [PathSegment], problems: inout [Problem]
    ) -> JSONValue {
        guard case .object(let object) = value else {
            problems.append(Problem(path: path, explanation: "Expected \(value.jsonString) to be a key-value object."))
            return value
        }
        var out = JSONObject()
        for (key, fieldValue) in object {
            guard let field = type.inputField(named: key) else {
                problems.append(Problem(path: path + [.key(key)], explanation: "Field is not defined on \(type.name)"))
                continue
            }
            path.append(.key(key))
            out[key] = coerce(fieldValue, as: field.type, path: &path, problems: &problems)
            path.removeLast()
        }
        for field in type.inputFields where object[field.name] == nil {
            if field.isRequired {
                problems.append(Problem(path: path + [.key(field.name)], explanation: "Expected value to not be null"))
            } else if let defaultJSON = field.defaultJSON {
                out[field.name] = defaultJSON
            }
        }
        return .object(out)
    }
}
