/// How graphql-ruby writes values into error messages.

extension Value {
    /// graphql-ruby's `GraphQL::Language::Printer` output for a value literal: `"abc"`, `5`, `1.5`, `ENUM`, `null`,
    /// `$var`, `[1, 2]`, `{name: "x", quantity: 5}`.
    var printed: String {
        switch kind {
        case .variable(let name): return "$" + name
        case .int(let text):
            // graphql-ruby prints the Ruby Integer: no sign on zero.
            return text == "-0" ? "0" : text
        case .float(let text): return rubyFloatString(Double(text) ?? 0)
        case .string(let string):
            var out = ""
            writeJSONString(string, to: &out)
            return out
        case .boolean(let bool): return bool ? "true" : "false"
        case .null: return "null"
        case .enumValue(let name): return name
        case .list(let items): return "[" + items.map(\.printed).joined(separator: ", ") + "]"
        case .object(let fields):
            return "{" + fields.map { "\($0.name): \($0.value.printed)" }.joined(separator: ", ") + "}"
        }
    }
}

extension JSONValue {
    /// graphql-ruby's `GraphQL::Language.serialize` of a Ruby value, used in variable problems ("Could not coerce
    /// value \"abc\" to Int", "Expected \"X\" to be one of: ..."): hashes as `{key:value}` with unquoted keys, arrays
    /// as `[a,b]`, everything else as JSON.
    var rubySerialized: String {
        switch self {
        case .array(let items): return "[" + items.map(\.rubySerialized).joined(separator: ",") + "]"
        case .object(let object):
            return "{" + object.map { "\($0.key):\($0.value.rubySerialized)" }.joined(separator: ",") + "}"
        default: return jsonString
        }
    }
}
