/// Tokenizer for GraphQL documents, following graphql-ruby's `GraphQL::Language::Lexer` (graphql-ruby 2.x), so
/// that tokens, their names in error messages ("RCURLY", "IDENTIFIER", ...) and lexical errors come out the same.
///
/// Differences from the spec that graphql-ruby has and this lexer keeps: a byte that starts no token becomes an
/// `UNKNOWN_CHAR` token (the parser then reports it), `0123` lexes as `0` then `123`, and `123abc` as `123` then
/// `abc`.

import Foundation

/// A syntax error, reported as graphql-ruby's `GraphQL::ParseError`: the message ends with " at [line, column]"
/// and the location is that of the offending token (nil when the document has no token at all).
struct ParseFailure: Error {
    let message: String
    let location: DocumentLocation?
}

enum TokenKind: String {
    case LCURLY, RCURLY, LPAREN, RPAREN, LBRACKET, RBRACKET, COLON, VAR_SIGN, DIR_SIGN, EQUALS, BANG, PIPE, AMP
    case ELLIPSIS, STRING, INT, FLOAT, IDENTIFIER, UNKNOWN_CHAR
    case ON, FRAGMENT, TRUE, FALSE, NULL, QUERY, MUTATION, SUBSCRIPTION, SCHEMA, SCALAR, TYPE, EXTEND, IMPLEMENTS
    case INTERFACE, UNION, ENUM, INPUT, DIRECTIVE, REPEATABLE

    /// The keyword tokens, by their text.
    static let keywords: [String: TokenKind] = [
        "on": .ON, "fragment": .FRAGMENT, "true": .TRUE, "false": .FALSE, "null": .NULL, "query": .QUERY,
        "mutation": .MUTATION, "subscription": .SUBSCRIPTION, "schema": .SCHEMA, "scalar": .SCALAR, "type": .TYPE,
        "extend": .EXTEND, "implements": .IMPLEMENTS, "interface": .INTERFACE, "union": .UNION, "enum": .ENUM,
        "input": .INPUT, "directive": .DIRECTIVE, "repeatable": .REPEATABLE,
    ]

    /// The punctuation characters graphql-ruby prints for these tokens in errors.
    var punctuation: String? {
        switch self {
        case .LCURLY: return "{"
        case .RCURLY: return "}"
        case .LPAREN: return "("
        case .RPAREN: return ")"
        case .LBRACKET: return "["
        case .RBRACKET: return "]"
        case .COLON: return ":"
        case .VAR_SIGN: return "$"
        case .DIR_SIGN: return "@"
        case .EQUALS: return "="
        case .BANG: return "!"
        case .PIPE: return "|"
        case .AMP: return "&"
        default: return nil
        }
    }

    /// Keywords are names too wherever the grammar wants a name.
    var isKeyword: Bool { Self.keywordNames[self] != nil }
    static let keywordNames: [TokenKind: String] = Dictionary(uniqueKeysWithValues: keywords.map { ($1, $0) })
}

struct Token {
    let kind: TokenKind
    /// Byte range in the document.
    let start: Int
    let end: Int
}

struct Lexer {
    let bytes: [UInt8]
    private(set) var pos = 0
    /// Start of the most recent token; where errors point, as in graphql-ruby (also after the end of the input).
    private(set) var tokenStart = 0
    /// Byte offsets where lines start, for locations.
    private let lineStarts: [Int]

    init(_ text: String) {
        bytes = Array(text.utf8)
        var starts = [0]
        for (i, byte) in bytes.enumerated() where byte == UInt8(ascii: "\n") { starts.append(i + 1) }
        lineStarts = starts
    }

    /// The line and column of a byte offset; columns count characters, not bytes.
    func location(of offset: Int) -> DocumentLocation {
        var low = 0
        var high = lineStarts.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if lineStarts[mid] <= offset { low = mid } else { high = mid - 1 }
        }
        var column = 1
        var i = lineStarts[low]
        while i < offset && i < bytes.count {
            if bytes[i] & 0xC0 != 0x80 { column += 1 }
            i += 1
        }
        // A continuation byte at `offset` itself belongs to the character already counted.
        return DocumentLocation(line: low + 1, column: column)
    }

    func text(_ token: Token) -> String {
        String(decoding: bytes[token.start..<token.end], as: UTF8.self)
    }

    func failure(_ message: String) -> ParseFailure {
        let location = location(of: tokenStart)
        return ParseFailure(message: "\(message) at [\(location.line), \(location.column)]", location: location)
    }

    /// The next token, or nil at the end of the input.
    mutating func next() throws(ParseFailure) -> Token? {
        while pos < bytes.count {
            let byte = bytes[pos]
            if byte == 0x20 || byte == 0x2C || byte == 0x0A || byte == 0x0D || byte == 0x09 {
                pos += 1
            } else if byte == UInt8(ascii: "#") {
                while pos < bytes.count && bytes[pos] != 0x0A { pos += 1 }
            } else {
                break
            }
        }
        guard pos < bytes.count else { return nil }
        tokenStart = pos
        let start = pos
        let byte = bytes[pos]
        func single(_ kind: TokenKind) -> Token {
            Token(kind: kind, start: start, end: start + 1)
        }
        switch byte {
        case UInt8(ascii: "{"): pos += 1; return single(.LCURLY)
        case UInt8(ascii: "}"): pos += 1; return single(.RCURLY)
        case UInt8(ascii: "("): pos += 1; return single(.LPAREN)
        case UInt8(ascii: ")"): pos += 1; return single(.RPAREN)
        case UInt8(ascii: "["): pos += 1; return single(.LBRACKET)
        case UInt8(ascii: "]"): pos += 1; return single(.RBRACKET)
        case UInt8(ascii: ":"): pos += 1; return single(.COLON)
        case UInt8(ascii: "$"): pos += 1; return single(.VAR_SIGN)
        case UInt8(ascii: "@"): pos += 1; return single(.DIR_SIGN)
        case UInt8(ascii: "="): pos += 1; return single(.EQUALS)
        case UInt8(ascii: "!"): pos += 1; return single(.BANG)
        case UInt8(ascii: "|"): pos += 1; return single(.PIPE)
        case UInt8(ascii: "&"): pos += 1; return single(.AMP)
        case UInt8(ascii: "."):
            if peek(1) == UInt8(ascii: "."), peek(2) == UInt8(ascii: ".") {
                pos += 3
                return Token(kind: .ELLIPSIS, start: start, end: pos)
            }
            let shown = String(decoding: bytes[start..<min(start + 3, bytes.count)], as: UTF8.self)
            throw failure("Expected `...`, actual: \(rubyInspect(shown))")
        case UInt8(ascii: "\""):
            return try lexString()
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return try lexNumber()
        default:
            if isNameStart(byte) {
                pos += 1
                while pos < bytes.count && isNameContinue(bytes[pos]) { pos += 1 }
                let token = Token(kind: .IDENTIFIER, start: start, end: pos)
                if let keyword = TokenKind.keywords[text(token)] {
                    return Token(kind: keyword, start: start, end: pos)
                }
                return token
            }
            // One whole UTF-8 character (graphql-ruby takes one byte; the parser stops at it either way).
            pos += 1
            while pos < bytes.count && bytes[pos] & 0xC0 == 0x80 { pos += 1 }
            return Token(kind: .UNKNOWN_CHAR, start: start, end: pos)
        }
    }

    private func peek(_ offset: Int) -> UInt8? {
        pos + offset < bytes.count ? bytes[pos + offset] : nil
    }

    private func isNameStart(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
            || b == UInt8(ascii: "_")
    }

    private func isNameContinue(_ b: UInt8) -> Bool { isNameStart(b) || isDigit(b) }
    private func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    private mutating func lexNumber() throws(ParseFailure) -> Token {
        let start = pos
        var p = pos
        if bytes[p] == UInt8(ascii: "-") { p += 1 }
        guard p < bytes.count, isDigit(bytes[p]) else {
            // graphql-ruby shows the `-`, one optional whitespace and the letters and digits after it.
            var q = start + 1
            if q < bytes.count, [0x20, 0x09, 0x0A, 0x0D, 0x0C, 0x0B].contains(bytes[q]) { q += 1 }
            while q < bytes.count, isDigit(bytes[q]) || isNameStart(bytes[q]) && bytes[q] != UInt8(ascii: "_") {
                q += 1
            }
            let shown = String(decoding: bytes[start..<q], as: UTF8.self)
            throw failure("Expected type 'number', but it was malformed: \(rubyInspect(shown)).")
        }
        if bytes[p] == UInt8(ascii: "0") {
            p += 1
        } else {
            while p < bytes.count && isDigit(bytes[p]) { p += 1 }
        }
        var isFloat = false
        if p + 1 < bytes.count, bytes[p] == UInt8(ascii: "."), isDigit(bytes[p + 1]) {
            isFloat = true
            p += 1
            while p < bytes.count && isDigit(bytes[p]) { p += 1 }
        }
        if p < bytes.count, bytes[p] == UInt8(ascii: "e") || bytes[p] == UInt8(ascii: "E") {
            var q = p + 1
            if q < bytes.count, bytes[q] == UInt8(ascii: "+") || bytes[q] == UInt8(ascii: "-") { q += 1 }
            if q < bytes.count, isDigit(bytes[q]) {
                isFloat = true
                p = q
                while p < bytes.count && isDigit(bytes[p]) { p += 1 }
            }
        }
        pos = p
        return Token(kind: isFloat ? .FLOAT : .INT, start: start, end: p)
    }

    /// A quoted string (no raw line breaks; escapes `\" \\ \/ \b \f \n \r \t \uXXXX \u{X...}`) or a block string.
    private mutating func lexString() throws(ParseFailure) -> Token {
        let start = pos
        if peek(1) == UInt8(ascii: "\""), peek(2) == UInt8(ascii: "\"") {
            var p = start + 3
            while p < bytes.count {
                if bytes[p] == UInt8(ascii: "\\"), p + 3 < bytes.count, bytes[p + 1] == UInt8(ascii: "\""),
                    bytes[p + 2] == UInt8(ascii: "\""), bytes[p + 3] == UInt8(ascii: "\"")
                {
                    p += 4
                } else if bytes[p] == UInt8(ascii: "\""), p + 2 < bytes.count, bytes[p + 1] == UInt8(ascii: "\""),
                    bytes[p + 2] == UInt8(ascii: "\"")
                {
                    pos = p + 3
                    return Token(kind: .STRING, start: start, end: pos)
                } else {
                    p += 1
                }
            }
            throw failure("Expected string or block string, but it was malformed")
        }
        var p = start + 1
        while p < bytes.count {
            switch bytes[p] {
            case UInt8(ascii: "\""):
                pos = p + 1
                return Token(kind: .STRING, start: start, end: pos)
            case 0x0A, 0x0D:
                throw failure("Expected string or block string, but it was malformed")
            case UInt8(ascii: "\\"):
                guard p + 1 < bytes.count else { break }
                switch bytes[p + 1] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                    UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    p += 2
                case UInt8(ascii: "u"):
                    // Shape only (four alphanumerics, or {4+ alphanumerics}); hex digits are checked on decoding.
                    var q = p + 2
                    if q < bytes.count, bytes[q] == UInt8(ascii: "{") {
                        q += 1
                        let digitsStart = q
                        while q < bytes.count, isNameContinue(bytes[q]), bytes[q] != UInt8(ascii: "_") { q += 1 }
                        guard q - digitsStart >= 4, q < bytes.count, bytes[q] == UInt8(ascii: "}") else {
                            throw failure("Expected string or block string, but it was malformed")
                        }
                        p = q + 1
                    } else {
                        for _ in 0..<4 {
                            guard q < bytes.count, isNameContinue(bytes[q]), bytes[q] != UInt8(ascii: "_") else {
                                throw failure("Expected string or block string, but it was malformed")
                            }
                            q += 1
                        }
                        p = q
                    }
                default:
                    throw failure("Expected string or block string, but it was malformed")
                }
            default:
                p += 1
            }
        }
        throw failure("Expected string or block string, but it was malformed")
    }

    /// The value of a STRING token: escapes decoded, block strings dedented (spec `BlockStringValue`).
    func stringValue(_ token: Token) throws(ParseFailure) -> String {
        let raw = text(token)
        if raw.hasPrefix("\"\"\"") {
            let body = raw.dropFirst(3).dropLast(3).replacingOccurrences(of: "\\\"\"\"", with: "\"\"\"")
            return blockStringValue(body)
        }
        let body = String(raw.dropFirst().dropLast())
        guard let decoded = decodeEscapes(body) else {
            throw failure("Bad unicode escape in \(rubyInspect(body))")
        }
        return decoded
    }
}

/// Decodes the escapes of a quoted string's body; nil for a malformed `\u` escape.
private func decodeEscapes(_ body: String) -> String? {
    guard body.contains("\\") else { return body }
    var out = String.UnicodeScalarView()
    var scalars = Array(body.unicodeScalars)[...]
    func hexValue(_ digits: ArraySlice<Unicode.Scalar>) -> UInt32? {
        guard !digits.isEmpty, digits.allSatisfy({ $0.properties.isASCIIHexDigit }) else { return nil }
        return UInt32(String(String.UnicodeScalarView(digits)), radix: 16)
    }
    func readUnicodeEscape() -> UInt32? {
        // `scalars` starts after "\u".
        if scalars.first == "{" {
            guard let close = scalars.firstIndex(of: "}") else { return nil }
            let value = hexValue(scalars[scalars.index(after: scalars.startIndex)..<close])
            scalars = scalars[scalars.index(after: close)...]
            return value
        }
        guard scalars.count >= 4 else { return nil }
        let value = hexValue(scalars.prefix(4))
        scalars = scalars.dropFirst(4)
        return value
    }
    while let scalar = scalars.popFirst() {
        guard scalar == "\\", let escape = scalars.popFirst() else {
            out.append(scalar)
            continue
        }
        switch escape {
        case "\"": out.append("\"")
        case "\\": out.append("\\")
        case "/": out.append("/")
        case "b": out.append("\u{08}")
        case "f": out.append("\u{0C}")
        case "n": out.append("\n")
        case "r": out.append("\r")
        case "t": out.append("\t")
        case "u":
            guard var code = readUnicodeEscape() else { return nil }
            // A leading surrogate followed by `\uXXXX` trailing surrogate makes one character.
            if (0xD800...0xDBFF).contains(code), scalars.starts(with: ["\\", "u"]) {
                let saved = scalars
                scalars = scalars.dropFirst(2)
                if let low = readUnicodeEscape(), (0xDC00...0xDFFF).contains(low) {
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                } else {
                    scalars = saved
                }
            }
            guard let decoded = Unicode.Scalar(code) else { return nil }
            out.append(decoded)
        default:
            return nil
        }
    }
    return String(out)
}

/// The spec's `BlockStringValue`: remove the common indentation and the blank first and last lines.
private func blockStringValue(_ raw: String) -> String {
    var lines = raw.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        .split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    func indent(_ line: String) -> Int { line.prefix(while: { $0 == " " || $0 == "\t" }).count }
    let commonIndent = lines.dropFirst().filter { indent($0) < $0.count }.map(indent).min()
    if let commonIndent, commonIndent > 0 {
        for i in lines.indices.dropFirst() { lines[i] = String(lines[i].dropFirst(commonIndent)) }
    }
    func isBlank(_ line: String) -> Bool { line.allSatisfy { $0 == " " || $0 == "\t" } }
    while let first = lines.first, isBlank(first) { lines.removeFirst() }
    while let last = lines.last, isBlank(last) { lines.removeLast() }
    return lines.joined(separator: "\n")
}

/// Ruby's `String#inspect`, which graphql-ruby uses to quote token text in parse errors.
func rubyInspect(_ s: String) -> String {
    var out = "\""
    var scalars = s.unicodeScalars.makeIterator()
    var pending = scalars.next()
    while let scalar = pending {
        pending = scalars.next()
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        case "\u{0C}": out += "\\f"
        case "\u{0B}": out += "\\v"
        case "\u{08}": out += "\\b"
        case "\u{07}": out += "\\a"
        case "\u{1B}": out += "\\e"
        case "#" where pending == "{" || pending == "$" || pending == "@": out += "\\#"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7F {
                let hex = String(scalar.value, radix: 16, uppercase: true)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}
