/// Whether a value literal written in the document fits a type: graphql-ruby's
/// `GraphQL::StaticValidation::LiteralValidator` with `error_bubbling` off (graphql-ruby's default), which stops at
/// the first thing that does not fit and reports only that.
struct LiteralValidator {
    let schema: Schema
    let scalars: ScalarRules

    enum Outcome: Equatable {
        case valid
        /// Invalid; the problem is what the failing scalar or enum explained, nil when nothing was explained (a
        /// missing required field, a null for a non-null type, a value of the wrong shape).
        case invalid(ScalarRules.Problem?)

        var isValid: Bool { self == .valid }
    }

    func validate(_ value: Value, as type: TypeRef?) -> Outcome {
        guard let type else { return .invalid(nil) }  // an input field the type does not have
        if case .null = value.kind { return type.isNonNull ? .invalid(nil) : .valid }
        switch type {
        case .nonNull(let inner):
            return validate(value, as: inner)
        case .list(let itemType):
            let items: [Value]
            if case .list(let listItems) = value.kind { items = listItems } else { items = [value] }
            for item in items {
                let outcome = validate(item, as: itemType)
                if !outcome.isValid { return outcome }
            }
            return .valid
        case .named(let name):
            if case .variable = value.kind { return .valid }
            guard let named = schema.type(named: name) else { return .invalid(nil) }
            switch named.kind {
            case .scalar where value.isConstant:
                return scalars.check(Self.scalarInput(value), scalar: name).map { .invalid($0) } ?? .valid
            case .enumeration:
                guard case .enumValue(let valueName) = value.kind else { return .invalid(nil) }
                if named.hasEnumValue(valueName) { return .valid }
                let explanation =
                    "Expected \(JSONValue.string(valueName).jsonString) to be one of: \(named.enumValues.joined(separator: ", "))"
                return .invalid(ScalarRules.Problem(explanation: explanation, message: nil))
            case .inputObject:
                guard case .object(let fields) = value.kind else { return .invalid(nil) }
                for field in named.inputFields where field.isRequired && !fields.contains(where: { $0.name == field.name }) {
                    return .invalid(nil)
                }
                for field in fields {
                    let outcome = validate(field.value, as: named.inputField(named: field.name)?.type)
                    if !outcome.isValid { return outcome }
                }
                return .valid
            default:
                return .invalid(nil)
            }
        }
    }

    /// The Ruby value graphql-ruby hands a scalar for a literal: enum values stay enum nodes at the top level and
    /// become their names inside lists and objects, integers keep their size.
    static func scalarInput(_ value: Value) -> ScalarRules.Input {
        switch value.kind {
        case .int(let text):
            if let int = Int(text) { return .json(.int(int)) }
            return .bigInteger(text)
        case .enumValue(let name):
            return .enumLiteral(name)
        default:
            return .json(value.constantJSON)
        }
    }
}

extension Value {
    /// A constant value as JSON: enum values become strings, integers beyond `Int` become doubles, variables
    /// (which a constant has none of) null.
    var constantJSON: JSONValue {
        switch kind {
        case .variable, .null: return .null
        case .int(let text): return Int(text).map { .int($0) } ?? .double(Double(text) ?? 0)
        case .float(let text): return .double(Double(text) ?? 0)
        case .string(let s): return .string(s)
        case .boolean(let b): return .bool(b)
        case .enumValue(let name): return .string(name)
        case .list(let items): return .array(items.map(\.constantJSON))
        case .object(let fields): return .object(JSONObject(fields.map { ($0.name, $0.value.constantJSON) }))
        }
    }
}
