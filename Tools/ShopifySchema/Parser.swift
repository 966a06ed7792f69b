/// Recursive-descent parser for GraphQL executable documents (spec October 2021, section 2), shaped after
/// graphql-ruby's hand-written `GraphQL::Language::Parser` (2.x) so that syntax errors read the same:
/// "Expected NAME, actual: RCURLY (\"}\") at [1, 10]", "Expected RCURLY, not end of file at [3, 5]", ...
///
/// graphql-ruby leniencies kept on purpose (each is refused later by validation, as graphql-ruby refuses it):
/// empty selection sets `{}` parse (then fail `selectionMismatch`), `fragment on T` parses without a name (then
/// fails `anonymousFragment`), and type-system definitions parse (then fail `queryContainsSchemaDefinitions`).
struct Parser {
    var lexer: Lexer
    /// The lookahead token; nil at the end of the input.
    var token: Token?
    /// Nesting of selection sets, list and object values and list types, bounded so that a hostile document
    /// cannot exhaust the stack (of the parser or of the validation walk that follows).
    var depth = 0
    static let maxDepth = 200

    init(_ text: String) {
        lexer = Lexer(text)
    }

    static func parse(_ text: String) throws(ParseFailure) -> Document {
        var parser = Parser(text)
        return try parser.parseDocument()
    }

    /// Parses a lone constant value, such as an introspection `defaultValue`; nil if it is not one.
    static func parseConstant(_ text: String) -> Value? {
        var parser = Parser(text)
        do {
            try parser.advance()
            let value = try parser.parseValue()
            return parser.token == nil && value.isConstant ? value : nil
        } catch {
            return nil
        }
    }

    // MARK: - Tokens

    mutating func advance() throws(ParseFailure) {
        token = try lexer.next()
    }

    func at(_ kind: TokenKind) -> Bool { token?.kind == kind }

    /// Where the lookahead token starts.
    var location: DocumentLocation { lexer.location(of: token?.start ?? lexer.tokenStart) }

    func failure(_ message: String) -> ParseFailure { lexer.failure(message) }

    /// Enters one nesting level; graphql-ruby reports a document too deep for its stack with this message.
    mutating func nest() throws(ParseFailure) {
        depth += 1
        if depth > Self.maxDepth {
            throw ParseFailure(message: "This query is too large to execute.", location: nil)
        }
    }

    /// graphql-ruby's `expect_token`: consume a token of `kind` or fail naming `expected`.
    mutating func expect(_ kind: TokenKind, named expected: String? = nil) throws(ParseFailure) {
        guard at(kind) else { throw try unexpected(expected: expected ?? kind.rawValue) }
        try advance()
    }

    /// The error for a lookahead that is not the `expected` token.
    func unexpected(expected: String) throws(ParseFailure) -> ParseFailure {
        guard let token else { return failure("Expected \(expected), not end of file") }
        return failure("Expected \(expected), actual: \(token.kind.rawValue) (\(rubyInspect(try debugText(token))))")
    }

    /// graphql-ruby's `expect_one_of`.
    func unexpected(oneOf kinds: [TokenKind]) throws(ParseFailure) -> ParseFailure {
        let names = kinds.map(\.rawValue).joined(separator: ", ")
        guard let token else {
            let last = lexer.bytes.last.map { String(decoding: [$0], as: UTF8.self) } ?? ""
            return failure("Expected one of \(names), actual: NOTHING (\(rubyInspect(last)))")
        }
        return failure("Expected one of \(names), actual: \(token.kind.rawValue) (\(rubyInspect(try debugText(token))))")
    }

    /// How graphql-ruby shows a token in errors: punctuation as itself, strings by their value, others as written.
    func debugText(_ token: Token) throws(ParseFailure) -> String {
        if let punctuation = token.kind.punctuation { return punctuation }
        if token.kind == .STRING { return try lexer.stringValue(token) }
        return lexer.text(token)
    }

    /// A name: an identifier or any keyword.
    mutating func parseName() throws(ParseFailure) -> String {
        guard let token, token.kind == .IDENTIFIER || token.kind.isKeyword else {
            throw try unexpected(expected: "NAME")
        }
        try advance()
        return lexer.text(token)
    }

    mutating func parseStringValue() throws(ParseFailure) -> String {
        guard let token, token.kind == .STRING else { throw try unexpected(expected: "STRING") }
        let value = try lexer.stringValue(token)
        try advance()
        return value
    }

    // MARK: - Definitions

    mutating func parseDocument() throws(ParseFailure) -> Document {
        try advance()
        guard token != nil else {
            // Only ignored characters: graphql-ruby reports it without a location.
            throw ParseFailure(message: "Unexpected end of document", location: nil)
        }
        var definitions: [Definition] = []
        repeat {
            definitions.append(try parseDefinition())
        } while token != nil
        return Document(definitions: definitions)
    }

    mutating func parseDefinition() throws(ParseFailure) -> Definition {
        switch token?.kind {
        case .FRAGMENT:
            let start = location
            try advance()
            var name: String?
            if !at(.ON) { name = try parseName() }
            try expect(.ON)
            let typeCondition = try parseName()
            let directives = try parseDirectives()
            let selections = try parseSelectionSet()
            return .fragment(
                FragmentDefinition(
                    name: name, typeCondition: typeCondition, directives: directives, selections: selections,
                    location: start))
        case .QUERY, .MUTATION, .SUBSCRIPTION, .LCURLY:
            return .operation(try parseOperation())
        case .EXTEND:
            return .typeSystem(try parseTypeSystemExtension())
        default:
            return .typeSystem(try parseTypeSystemDefinition())
        }
    }

    mutating func parseOperation() throws(ParseFailure) -> OperationDefinition {
        let start = location
        let operationType: OperationType
        switch token?.kind {
        case .QUERY: operationType = .query; try advance()
        case .MUTATION: operationType = .mutation; try advance()
        case .SUBSCRIPTION: operationType = .subscription; try advance()
        default: operationType = .query  // `{ ... }` shorthand
        }
        var name: String?
        switch token?.kind {
        case .LPAREN, .LCURLY, .DIR_SIGN: name = nil
        default: name = try parseName()
        }
        var variables: [VariableDefinition] = []
        if at(.LPAREN) {
            try advance()
            while !at(.RPAREN) {
                variables.append(try parseVariableDefinition())
            }
            try expect(.RPAREN)
        }
        let directives = try parseDirectives()
        let selections = try parseSelectionSet()
        return OperationDefinition(
            operationType: operationType, name: name, variableDefinitions: variables, directives: directives,
            selections: selections, location: start)
    }

    mutating func parseVariableDefinition() throws(ParseFailure) -> VariableDefinition {
        let start = location
        try expect(.VAR_SIGN)
        let name = try parseName()
        try expect(.COLON)
        guard let type = try parseType() else { throw failure("Missing type definition for variable: $\(name)") }
        var defaultValue: Value?
        if at(.EQUALS) {
            try advance()
            defaultValue = try parseValue()
        }
        let directives = try parseDirectives()
        return VariableDefinition(
            name: name, type: type, defaultValue: defaultValue, directives: directives, location: start)
    }

    /// A type reference; nil when the lookahead starts none (graphql-ruby then reports the missing type).
    mutating func parseType() throws(ParseFailure) -> TypeRef? {
        var type: TypeRef?
        if at(.IDENTIFIER), let token {
            try advance()
            type = .named(lexer.text(token))
        } else if at(.LBRACKET) {
            try nest()
            defer { depth -= 1 }
            try advance()
            let inner = try parseType()
            try expect(.RBRACKET)
            type = inner.map { .list($0) }
        }
        if let inner = type, at(.BANG) {
            try advance()
            type = .nonNull(inner)
        }
        return type
    }

    // MARK: - Selections

    mutating func parseSelectionSet() throws(ParseFailure) -> [Selection] {
        try nest()
        defer { depth -= 1 }
        try expect(.LCURLY)
        var selections: [Selection] = []
        while !at(.RCURLY) {
            selections.append(try parseSelection())
        }
        try expect(.RCURLY)
        return selections
    }

    mutating func parseSelection() throws(ParseFailure) -> Selection {
        let start = location
        if at(.ELLIPSIS) {
            try advance()
            switch token?.kind {
            case .ON, .DIR_SIGN, .LCURLY:
                var typeCondition: String?
                if at(.ON) {
                    try advance()
                    typeCondition = try parseName()
                }
                let directives = try parseDirectives()
                let selections = try parseSelectionSet()
                return .inlineFragment(
                    InlineFragment(
                        typeCondition: typeCondition, directives: directives, selections: selections, location: start))
            default:
                let name = try parseName()
                let directives = try parseDirectives()
                return .fragmentSpread(FragmentSpread(name: name, directives: directives, location: start))
            }
        }
        var name = try parseName()
        var alias: String?
        if at(.COLON) {
            try advance()
            alias = name
            name = try parseName()
        }
        let arguments = try parseArguments()
        let directives = try parseDirectives()
        var selections: [Selection] = []
        if at(.LCURLY) { selections = try parseSelectionSet() }
        return .field(
            Field(
                alias: alias, name: name, arguments: arguments, directives: directives, selections: selections,
                location: start))
    }

    mutating func parseDirectives() throws(ParseFailure) -> [Directive] {
        var directives: [Directive] = []
        while at(.DIR_SIGN) {
            let start = location
            try advance()
            let name = try parseName()
            let arguments = try parseArguments()
            directives.append(Directive(name: name, arguments: arguments, location: start))
        }
        return directives
    }

    mutating func parseArguments() throws(ParseFailure) -> [Argument] {
        guard at(.LPAREN) else { return [] }
        try advance()
        var arguments: [Argument] = []
        while !at(.RPAREN) {
            arguments.append(try parseArgument())
        }
        if arguments.isEmpty { throw try unexpected(expected: "ARGUMENT_NAME") }
        try expect(.RPAREN)
        return arguments
    }

    mutating func parseArgument() throws(ParseFailure) -> Argument {
        let start = location
        let name = try parseName()
        try expect(.COLON)
        return Argument(name: name, value: try parseValue(), location: start)
    }

    // MARK: - Values

    mutating func parseValue() throws(ParseFailure) -> Value {
        let start = location
        guard let token else { throw try unexpected(expected: "VALUE") }
        let kind: Value.Kind
        switch token.kind {
        case .INT: kind = .int(lexer.text(token)); try advance()
        case .FLOAT: kind = .float(lexer.text(token)); try advance()
        case .STRING: kind = .string(try parseStringValue())
        case .TRUE: kind = .boolean(true); try advance()
        case .FALSE: kind = .boolean(false); try advance()
        case .NULL: kind = .null; try advance()
        case .IDENTIFIER: kind = .enumValue(lexer.text(token)); try advance()
        case .LBRACKET:
            try nest()
            defer { depth -= 1 }
            try advance()
            var items: [Value] = []
            while !at(.RBRACKET) {
                items.append(try parseValue())
            }
            try expect(.RBRACKET)
            kind = .list(items)
        case .LCURLY:
            try nest()
            defer { depth -= 1 }
            try advance()
            var fields: [Argument] = []
            while !at(.RCURLY) {
                fields.append(try parseArgument())
            }
            try expect(.RCURLY)
            kind = .object(fields)
        case .VAR_SIGN:
            try advance()
            kind = .variable(try parseName())
        default:
            // graphql-ruby reads the remaining keywords (`query`, `on`, `type`, ...) as enum values.
            guard token.kind.isKeyword else { throw try unexpected(expected: "VALUE") }
            kind = .enumValue(lexer.text(token))
            try advance()
        }
        return Value(kind: kind, location: start)
    }
}
