/// Type-system definitions and extensions (`type`, `schema`, `directive`, `extend ...`). A client document has no
/// business containing them, and validation refuses them (`queryContainsSchemaDefinitions`); they are parsed, as
/// graphql-ruby parses them, only so that a malformed one gets graphql-ruby's syntax error and a well-formed one
/// gets its validation error. The parsed content is discarded.
extension Parser {
    static let definitionKinds: [TokenKind] = [.SCHEMA, .SCALAR, .TYPE, .ENUM, .INPUT, .UNION, .INTERFACE]

    mutating func parseTypeSystemDefinition() throws(ParseFailure) -> TypeSystemDefinition {
        let start = location
        if at(.STRING) { _ = try parseStringValue() }  // description
        let kind: String
        switch token?.kind {
        case .SCHEMA:
            kind = "schema"
            try advance()
            _ = try parseDirectives()
            try expect(.LCURLY)
            try parseRootOperationTypes()
        case .DIRECTIVE:
            kind = "directive"
            try advance()
            try expect(.DIR_SIGN)
            _ = try parseName()
            try parseArgumentDefinitions()
            if at(.REPEATABLE) { try advance() }
            try expect(.ON)
            _ = try parseName()
            while at(.PIPE) {
                try advance()
                _ = try parseName()
            }
        case .TYPE:
            kind = "type"
            try advance()
            _ = try parseName()
            try parseImplements()
            _ = try parseDirectives()
            if at(.LCURLY) { try parseFieldDefinitions() }
        case .INTERFACE:
            kind = "interface"
            try advance()
            _ = try parseName()
            try parseImplements()
            _ = try parseDirectives()
            try parseFieldDefinitions()
        case .UNION:
            kind = "union"
            try advance()
            _ = try parseName()
            _ = try parseDirectives()
            try parseUnionMembers()
        case .SCALAR:
            kind = "scalar"
            try advance()
            _ = try parseName()
            _ = try parseDirectives()
        case .ENUM:
            kind = "enum"
            try advance()
            _ = try parseName()
            _ = try parseDirectives()
            try parseEnumValueDefinitions()
        case .INPUT:
            kind = "input"
            try advance()
            _ = try parseName()
            _ = try parseDirectives()
            try parseInputFieldDefinitions()
        default:
            throw try unexpected(oneOf: Self.definitionKinds)
        }
        return TypeSystemDefinition(kind: kind, location: start)
    }

    mutating func parseTypeSystemExtension() throws(ParseFailure) -> TypeSystemDefinition {
        let start = location
        try advance()  // extend
        let kind: String
        switch token?.kind {
        case .SCALAR:
            kind = "extend scalar"
            try advance()
            _ = try parseName()
            _ = try parseDirectives()
        case .TYPE:
            kind = "extend type"
            try advance()
            _ = try parseName()
            try parseImplements()
            _ = try parseDirectives()
            if at(.LCURLY) { try parseFieldDefinitions() }
        case .INTERFACE:
            kind = "extend interface"
            try advance()
            _ = try parseName()
            _ = try parseDirectives()
            try parseImplements()
            if at(.LCURLY) { try parseFieldDefinitions() }
        case .UNION:
            kind = "extend union"
            try advance()
            _ = try parseName()
            _ = try parseDirectives()
            try parseUnionMembers()
        case .ENUM:
            kind = "extend enum"
            try advance()
            _ = try parseName()
            _ = try parseDirectives()
            try parseEnumValueDefinitions()
        case .INPUT:
            kind = "extend input"
            try advance()
            _ = try parseName()
            _ = try parseDirectives()
            try parseInputFieldDefinitions()
        case .SCHEMA:
            kind = "extend schema"
            try advance()
            _ = try parseDirectives()
            if at(.LCURLY) {
                try advance()
                try parseRootOperationTypes()
            }
        default:
            throw try unexpected(oneOf: [.SCHEMA, .SCALAR, .TYPE, .ENUM, .INPUT, .UNION, .INTERFACE])
        }
        return TypeSystemDefinition(kind: kind, location: start)
    }

    /// `query: Name mutation: Name ... }` (after the opening brace).
    private mutating func parseRootOperationTypes() throws(ParseFailure) {
        while !at(.RCURLY) {
            guard at(.QUERY) || at(.MUTATION) || at(.SUBSCRIPTION) else {
                throw try unexpected(oneOf: [.QUERY, .MUTATION, .SUBSCRIPTION])
            }
            try advance()
            try expect(.COLON)
            _ = try parseName()
        }
        try expect(.RCURLY)
    }

    private mutating func parseImplements() throws(ParseFailure) {
        guard at(.IMPLEMENTS) else { return }
        try advance()
        while true {
            if at(.AMP) { try advance() }
            guard at(.IDENTIFIER) else { break }
            _ = try parseName()
        }
    }

    private mutating func parseFieldDefinitions() throws(ParseFailure) {
        try expect(.LCURLY)
        while !at(.RCURLY) {
            if at(.STRING) { _ = try parseStringValue() }
            _ = try parseName()
            try parseArgumentDefinitions()
            try expect(.COLON)
            _ = try parseType()
            _ = try parseDirectives()
        }
        try expect(.RCURLY)
    }

    private mutating func parseArgumentDefinitions() throws(ParseFailure) {
        guard at(.LPAREN) else { return }
        try advance()
        while !at(.RPAREN) { try parseInputValueDefinition() }
        try expect(.RPAREN)
    }

    private mutating func parseInputFieldDefinitions() throws(ParseFailure) {
        guard at(.LCURLY) else { return }
        try advance()
        while !at(.RCURLY) { try parseInputValueDefinition() }
        try expect(.RCURLY)
    }

    private mutating func parseInputValueDefinition() throws(ParseFailure) {
        if at(.STRING) { _ = try parseStringValue() }
        _ = try parseName()
        try expect(.COLON)
        _ = try parseType()
        if at(.EQUALS) {
            try advance()
            _ = try parseValue()
        }
        _ = try parseDirectives()
    }

    private mutating func parseEnumValueDefinitions() throws(ParseFailure) {
        guard at(.LCURLY) else { return }
        try advance()
        while !at(.RCURLY) {
            if at(.STRING) { _ = try parseStringValue() }
            // Any name but true, false and null.
            if at(.TRUE) || at(.FALSE) || at(.NULL) { throw try unexpected(expected: "IDENTIFIER") }
            _ = try parseName()
            _ = try parseDirectives()
        }
        try expect(.RCURLY)
    }

    private mutating func parseUnionMembers() throws(ParseFailure) {
        guard at(.EQUALS) else { return }
        try advance()
        if at(.PIPE) { try advance() }
        _ = try parseName()
        while at(.PIPE) {
            try advance()
            _ = try parseName()
        }
    }
}
