/// The little of a GraphQL request the simulator needs: operation kind, its single root field, that field's
/// arguments and directives, the declared variable types, and the tokens of the root field's selection set.
///
/// This is not a GraphQL parser: it tokenizes the document, finds the one root field, and records where
/// arguments come from. Responses have a fixed shape per root field; the selection set is only searched
/// for the nested arguments that change the answer (`inventoryLevel(locationId:)`, `quantities(names:)`).
struct GraphQLDocument: Sendable {
    enum Kind: String, Sendable { case query, mutation, subscription }

    /// Where an argument's value comes from.
    enum Argument: Sendable, Equatable {
        case variable(String)
        case literal(JSONValue)
    }

    var kind: Kind
    var rootField: String
    var arguments: [String: Argument]
    /// Directives on the root field, by name (without `@`), with their arguments.
    var directives: [String: [String: Argument]]
    /// Declared variables: name (without `$`) → type text such as `InventorySetQuantitiesInput!`.
    var variableTypes: [String: String]
    /// The tokens inside the root field's selection set.
    var selection: [Token]

    /// A failure to read the document, reported as Shopify reports a syntax error.
    struct SyntaxError: Error, Sendable {
        var message: String
    }

    enum Token: Sendable, Equatable {
        case name(String)
        case punct(Character)
        case spread
        case string(String)
        case number(String)
    }

    // MARK: - Parsing

    init(parsing text: String) throws(SyntaxError) {
        let tokens = try Self.tokenize(text)
        var p = Cursor(tokens: tokens)
        var kind = Kind.query
        var variableTypes: [String: String] = [:]
        if case .name(let word)? = p.peek, let k = Kind(rawValue: word) {
            kind = k
            p.advance()
            if case .name? = p.peek { p.advance() }  // operation name
            if p.peek == .punct("(") { variableTypes = try p.variableDefinitions() }
            while p.peek == .punct("@") { _ = try p.directive() }
        } else if case .name(let word)? = p.peek, word == "fragment" {
            throw SyntaxError(message: "Fragment definitions are not supported by the simulator; use inline fragments")
        }
        try p.expect(.punct("{"))
        // Root selection: optional alias, field name, arguments, directives, selection set.
        guard case .name(var field)? = p.peek else {
            throw SyntaxError(message: "syntax error, expected a field at the start of the selection set")
        }
        p.advance()
        if p.peek == .punct(":") {
            p.advance()
            guard case .name(let real)? = p.peek else { throw SyntaxError(message: "syntax error, expected field after alias") }
            field = real
            p.advance()
        }
        var arguments: [String: Argument] = [:]
        if p.peek == .punct("(") { arguments = try p.arguments() }
        var directives: [String: [String: Argument]] = [:]
        while p.peek == .punct("@") {
            let (name, args) = try p.directive()
            directives[name] = args
        }
        var selection: [Token] = []
        if p.peek == .punct("{") { selection = try p.balanced(open: "{", close: "}") }
        guard p.peek != nil else { throw SyntaxError(message: "syntax error, unexpected end of file") }
        if p.peek != .punct("}") {
            throw SyntaxError(message: "The simulator supports exactly one root field per request; found more after '\(field)'")
        }
        p.advance()
        if p.peek != nil {
            throw SyntaxError(message: "The simulator supports exactly one operation per document and no fragment definitions")
        }
        self.kind = kind
        self.rootField = field
        self.arguments = arguments
        self.directives = directives
        self.variableTypes = variableTypes
        self.selection = selection
    }

    /// Arguments of the first field called `name` anywhere in the root field's selection set.
    func nestedArguments(of name: String) throws(SyntaxError) -> [String: Argument]? {
        var index = 0
        while index < selection.count {
            if selection[index] == .name(name), index + 1 < selection.count, selection[index + 1] == .punct("(") {
                var p = Cursor(tokens: Array(selection[(index + 1)...]))
                return try p.arguments()
            }
            index += 1
        }
        return nil
    }

    /// True when the selection set mentions a field or type called `name`.
    func selects(_ name: String) -> Bool { selection.contains(.name(name)) }

    // MARK: - Tokenizer

    static func tokenize(_ text: String) throws(SyntaxError) -> [Token] {
        var tokens: [Token] = []
        let chars = Array(text.unicodeScalars)
        var i = 0
        func isNameStart(_ c: Unicode.Scalar) -> Bool { c == "_" || ("a"..."z").contains(c) || ("A"..."Z").contains(c) }
        func isName(_ c: Unicode.Scalar) -> Bool { isNameStart(c) || ("0"..."9").contains(c) }
        while i < chars.count {
            let c = chars[i]
            switch c {
            case " ", "\t", "\n", "\r", ",", "\u{FEFF}":
                i += 1
            case "#":
                while i < chars.count, chars[i] != "\n" { i += 1 }
            case "{", "}", "(", ")", "[", "]", ":", "$", "@", "!", "=", "|", "&":
                tokens.append(.punct(Character(c)))
                i += 1
            case ".":
                guard i + 2 < chars.count, chars[i + 1] == ".", chars[i + 2] == "." else {
                    throw SyntaxError(message: "syntax error, unexpected '.'")
                }
                tokens.append(.spread)
                i += 3
            case "\"":
                if i + 2 < chars.count, chars[i + 1] == "\"", chars[i + 2] == "\"" {
                    // Block string.
                    var j = i + 3
                    var value = ""
                    while j + 2 < chars.count, !(chars[j] == "\"" && chars[j + 1] == "\"" && chars[j + 2] == "\"") {
                        value.unicodeScalars.append(chars[j])
                        j += 1
                    }
                    guard j + 2 < chars.count else { throw SyntaxError(message: "syntax error, unterminated string") }
                    tokens.append(.string(value))
                    i = j + 3
                } else {
                    var j = i + 1
                    var value = ""
                    while j < chars.count, chars[j] != "\"" {
                        if chars[j] == "\\", j + 1 < chars.count {
                            j += 1
                            switch chars[j] {
                            case "n": value += "\n"
                            case "t": value += "\t"
                            case "r": value += "\r"
                            case "u":
                                if j + 4 < chars.count, let v = UInt32(String(String.UnicodeScalarView(chars[(j + 1)...(j + 4)])), radix: 16),
                                    let s = Unicode.Scalar(v)
                                {
                                    value.unicodeScalars.append(s)
                                    j += 4
                                }
                            default: value.unicodeScalars.append(chars[j])
                            }
                        } else {
                            value.unicodeScalars.append(chars[j])
                        }
                        j += 1
                    }
                    guard j < chars.count else { throw SyntaxError(message: "syntax error, unterminated string") }
                    tokens.append(.string(value))
                    i = j + 1
                }
            case "-", "0"..."9":
                var j = i + 1
                while j < chars.count, ("0"..."9").contains(chars[j]) || [".", "e", "E", "+", "-"].contains(chars[j]) { j += 1 }
                tokens.append(.number(String(String.UnicodeScalarView(chars[i..<j]))))
                i = j
            default:
                guard isNameStart(c) else {
                    throw SyntaxError(message: "syntax error, unexpected character '\(c)'")
                }
                var j = i + 1
                while j < chars.count, isName(chars[j]) { j += 1 }
                tokens.append(.name(String(String.UnicodeScalarView(chars[i..<j]))))
                i = j
            }
        }
        return tokens
    }

    // MARK: - Cursor

    private struct Cursor {
        var tokens: [Token]
        var index = 0

        var peek: Token? { index < tokens.count ? tokens[index] : nil }
        mutating func advance() { index += 1 }

        mutating func expect(_ token: Token) throws(SyntaxError) {
            guard peek == token else {
                throw SyntaxError(message: "syntax error, expected \(Self.describe(token)) but found \(peek.map(Self.describe) ?? "end of file")")
            }
            advance()
        }

        static func describe(_ token: Token) -> String {
            switch token {
            case .name(let n): return "'\(n)'"
            case .punct(let c): return "'\(c)'"
            case .spread: return "'...'"
            case .string(let s): return "\"\(s)\""
            case .number(let n): return n
            }
        }

        /// Tokens between a balanced `open` … `close` pair (the cursor is on `open`).
        mutating func balanced(open: Character, close: Character) throws(SyntaxError) -> [Token] {
            try expect(.punct(open))
            var depth = 1
            var inner: [Token] = []
            while let t = peek {
                advance()
                if t == .punct(open) { depth += 1 }
                if t == .punct(close) {
                    depth -= 1
                    if depth == 0 { return inner }
                }
                inner.append(t)
            }
            throw SyntaxError(message: "syntax error, unexpected end of file (unbalanced '\(open)')")
        }

        mutating func variableDefinitions() throws(SyntaxError) -> [String: String] {
            let inner = try balanced(open: "(", close: ")")
            var result: [String: String] = [:]
            var i = 0
            while i < inner.count {
                guard inner[i] == .punct("$"), i + 1 < inner.count, case .name(let name) = inner[i + 1] else {
                    throw SyntaxError(message: "syntax error in variable definitions")
                }
                i += 2
                guard i < inner.count, inner[i] == .punct(":") else { throw SyntaxError(message: "syntax error, expected ':' after $\(name)") }
                i += 1
                var type = ""
                while i < inner.count, inner[i] != .punct("$"), inner[i] != .punct("="), inner[i] != .punct("@") {
                    switch inner[i] {
                    case .name(let n): type += n
                    case .punct(let c): type.append(c)
                    default: throw SyntaxError(message: "syntax error in the type of $\(name)")
                    }
                    i += 1
                }
                // Skip a default value or directives up to the next variable.
                while i < inner.count, inner[i] != .punct("$") { i += 1 }
                guard !type.isEmpty else { throw SyntaxError(message: "syntax error, missing type for $\(name)") }
                result[name] = type
            }
            return result
        }

        mutating func directive() throws(SyntaxError) -> (String, [String: Argument]) {
            try expect(.punct("@"))
            guard case .name(let name)? = peek else { throw SyntaxError(message: "syntax error, expected directive name") }
            advance()
            let args = peek == .punct("(") ? try arguments() : [:]
            return (name, args)
        }

        mutating func arguments() throws(SyntaxError) -> [String: Argument] {
            try expect(.punct("("))
            var result: [String: Argument] = [:]
            while true {
                guard let t = peek else { throw SyntaxError(message: "syntax error, unexpected end of file in arguments") }
                if t == .punct(")") {
                    advance()
                    return result
                }
                guard case .name(let name) = t else { throw SyntaxError(message: "syntax error, expected argument name") }
                advance()
                try expect(.punct(":"))
                if peek == .punct("$") {
                    advance()
                    guard case .name(let variable)? = peek else { throw SyntaxError(message: "syntax error, expected variable name") }
                    advance()
                    result[name] = .variable(variable)
                } else {
                    result[name] = .literal(try literal())
                }
            }
        }

        mutating func literal() throws(SyntaxError) -> JSONValue {
            guard let t = peek else { throw SyntaxError(message: "syntax error, unexpected end of file") }
            advance()
            switch t {
            case .string(let s): return .string(s)
            case .number(let n):
                if let i = Int64(n) { return .int(i) }
                if let d = Double(n) { return .double(d) }
                throw SyntaxError(message: "syntax error, bad number \(n)")
            case .name("true"): return .bool(true)
            case .name("false"): return .bool(false)
            case .name("null"): return .null
            case .name(let enumValue): return .string(enumValue)
            case .punct("["):
                var elements: [JSONValue] = []
                while peek != .punct("]") {
                    guard peek != nil else { throw SyntaxError(message: "syntax error, unterminated list") }
                    elements.append(try literal())
                }
                advance()
                return .array(elements)
            case .punct("{"):
                var members: [String: JSONValue] = [:]
                while peek != .punct("}") {
                    guard case .name(let key)? = peek else { throw SyntaxError(message: "syntax error in input object") }
                    advance()
                    try expect(.punct(":"))
                    members[key] = try literal()
                }
                advance()
                return .object(members)
            case .punct("$"):
                throw SyntaxError(message: "The simulator does not support variables nested inside literal values; pass the whole argument as a variable")
            default:
                throw SyntaxError(message: "syntax error, unexpected \(Self.describe(t))")
            }
        }
    }
}
