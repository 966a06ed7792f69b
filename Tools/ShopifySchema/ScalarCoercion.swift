/// Input checks for scalars, shared by literal validation (argument values written in the document) and variable
/// coercion (the request's JSON `variables`).
///
/// Built-in scalars follow graphql-ruby exactly (`GraphQL::Types::Int` etc.):
/// - `Int`: a JSON integer in -2^31 ... 2^31-1. `5.0` and `"5"` are refused.
/// - `Float`: any JSON number.
/// - `String`: a JSON string.
/// - `Boolean`: `true` or `false`.
/// - `ID`: a string or an integer (graphql-ruby turns the integer into a string). On top of that, Shopify's Admin
///   API refuses IDs that are not global IDs, explaining "Invalid global id `<value>`" (seen in Admin API
///   responses); with `ValidationOptions.strictGlobalIDs` (the default) an ID must look like
///   `gid://<app>/<Model>/<id>[?params]`, and a bare integer is refused.
///
/// Shopify's custom scalars, as its documentation describes them (the implementations are not public, so what
/// each refuses is a reconstruction, deliberately lenient about content so that real requests are not refused):
/// - `JSON`: any JSON value.
/// - `URL`, `HTML`, `FormattedString`, `ARN`, `Color`, `UtcOffset`, `StorefrontID`: a string (content unchecked).
/// - `DateTime`, `Date`: a string starting with an ISO 8601 date `YYYY-MM-DD`.
/// - `Decimal`, `Money`: a decimal string such as `"29.99"` (documented as strings), or a JSON number.
/// - `BigInt`: a string of base-10 digits with an optional sign, or a JSON integer (documented as a string; graphql-
///   ruby's own BigInt accepts numbers too).
/// - `UnsignedInt64`: a string of base-10 digits in 0 ... 2^64-1, or a non-negative JSON integer.
/// - any other scalar: any value (unknown to this validator, so not checked).
/// A refused value is explained as graphql-ruby explains a failed coercion: "Could not coerce value <v> to <Type>".
struct ScalarRules: Sendable {
    var strictGlobalIDs: Bool

    /// What a failed check reports. `message` is set when the scalar raised a coercion error with its own text
    /// (graphql-ruby then uses it as the error message of an argument literal).
    struct Problem: Sendable, Equatable {
        let explanation: String
        let message: String?
    }

    /// A scalar input: JSON, or from a literal, an integer too big for `Int` or an enum value.
    enum Input {
        case json(JSONValue)
        case bigInteger(String)
        case enumLiteral(String)

        /// graphql-ruby's `GraphQL::Language.serialize` of the value.
        var serialized: String {
            switch self {
            case .json(let value): return value.rubySerialized
            case .bigInteger(let text): return text
            case .enumLiteral(let name): return JSONValue.string(name).jsonString
            }
        }
    }

    /// Checks a non-null input for the scalar `name`; nil when it is acceptable.
    func check(_ input: Input, scalar name: String) -> Problem? {
        let accepted: Bool
        switch name {
        case "Int":
            if case .json(.int(let v)) = input { accepted = v >= Int(Int32.min) && v <= Int(Int32.max) } else { accepted = false }
        case "Float":
            switch input {
            case .json(.int), .json(.double), .bigInteger: accepted = true
            default: accepted = false
            }
        case "String", "URL", "HTML", "FormattedString", "ARN", "Color", "UtcOffset", "StorefrontID":
            if case .json(.string) = input { accepted = true } else { accepted = false }
        case "Boolean":
            if case .json(.bool) = input { accepted = true } else { accepted = false }
        case "ID":
            return checkID(input)
        case "DateTime", "Date":
            if case .json(.string(let s)) = input { accepted = Self.startsWithISODate(s) } else { accepted = false }
        case "Decimal", "Money":
            switch input {
            case .json(.int), .json(.double), .bigInteger: accepted = true
            case .json(.string(let s)): accepted = Self.isDecimal(s)
            default: accepted = false
            }
        case "BigInt":
            switch input {
            case .json(.int), .bigInteger: accepted = true
            case .json(.string(let s)): accepted = Self.isInteger(s, signed: true)
            default: accepted = false
            }
        case "UnsignedInt64":
            switch input {
            case .json(.int(let v)): accepted = v >= 0
            case .bigInteger(let text): accepted = UInt64(text) != nil
            case .json(.string(let s)): accepted = Self.isInteger(s, signed: false) && UInt64(s) != nil
            default: accepted = false
            }
        default:
            accepted = true  // JSON, and scalars this validator does not know
        }
        return accepted ? nil : Problem(explanation: "Could not coerce value \(input.serialized) to \(name)", message: nil)
    }

    private func checkID(_ input: Input) -> Problem? {
        let text: String
        switch input {
        case .json(.string(let s)): text = s
        case .json(.int(let v)): text = String(v)
        case .bigInteger(let digits): text = digits
        default:
            return Problem(explanation: "Could not coerce value \(input.serialized) to ID", message: nil)
        }
        if strictGlobalIDs && !Self.isGlobalID(text) {
            let message = "Invalid global id `\(text)`"
            return Problem(explanation: message, message: message)
        }
        return nil
    }

    /// The coerced form of an accepted variable value: integers for `ID` become strings, for `Float` doubles.
    func coerce(_ value: JSONValue, scalar name: String) -> JSONValue {
        switch (name, value) {
        case ("ID", .int(let v)): return .string(String(v))
        case ("Float", .int(let v)): return .double(Double(v))
        default: return value
        }
    }

    // MARK: - Formats

    /// `gid://<app>/<Model>/<id>` with an optional `?query`, made of URI characters (RFC 3986), the shape
    /// Rails' GlobalID (which Shopify's IDs are) parses. Checked on UTF-8 bytes: this runs for every ID.
    static func isGlobalID(_ s: String) -> Bool {
        var utf8 = s.utf8[...]
        guard utf8.starts(with: "gid://".utf8) else { return false }
        utf8 = utf8.dropFirst(6)
        var query: Substring.UTF8View.SubSequence = utf8[utf8.endIndex...]
        if let q = utf8.firstIndex(of: UInt8(ascii: "?")) {
            query = utf8[utf8.index(after: q)...]
            utf8 = utf8[..<q]
        }
        let parts = utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        guard parts.count == 3, parts.allSatisfy({ !$0.isEmpty }) else { return false }
        return parts[0].allSatisfy {
            isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_")
        }
            && parts[1].allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "_") }
            && isURIText(parts[2]) && isURIText(query, allowing: "/?")
    }

    private static func isAlphanumeric(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
            || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
    }

    private static func isHexDigit(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "f"))
            || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "F"))
    }

    /// Unreserved, sub-delims, `:`, `@` and `%XX` escapes (plus the ASCII characters of `extra`).
    private static func isURIText<C: Collection>(_ bytes: C, allowing extra: String = "") -> Bool where C.Element == UInt8 {
        let allowed = "-._~!$&'()*+,;=:@".utf8
        var iterator = bytes.makeIterator()
        while let b = iterator.next() {
            if b == UInt8(ascii: "%") {
                guard let h1 = iterator.next(), let h2 = iterator.next(), isHexDigit(h1), isHexDigit(h2) else {
                    return false
                }
                continue
            }
            guard isAlphanumeric(b) || allowed.contains(b) || extra.utf8.contains(b) else { return false }
        }
        return true
    }

    static func startsWithISODate(_ s: String) -> Bool {
        let b = Array(s.utf8.prefix(10))
        guard b.count == 10, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-") else { return false }
        return [0, 1, 2, 3, 5, 6, 8, 9].allSatisfy { b[$0] >= UInt8(ascii: "0") && b[$0] <= UInt8(ascii: "9") }
    }

    static func isInteger(_ s: String, signed: Bool) -> Bool {
        var digits = Substring(s)
        if signed, let first = digits.first, first == "+" || first == "-" { digits = digits.dropFirst() }
        return !digits.isEmpty && digits.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }

    /// `[+-]digits[.digits][e[+-]digits]`, also `.5` and `5.`.
    static func isDecimal(_ s: String) -> Bool {
        var b = Substring(s).utf8[...]
        func isDigitByte(_ x: UInt8) -> Bool { x >= UInt8(ascii: "0") && x <= UInt8(ascii: "9") }
        if let f = b.first, f == UInt8(ascii: "+") || f == UInt8(ascii: "-") { b = b.dropFirst() }
        let intDigits = b.prefix(while: isDigitByte).count
        b = b.dropFirst(intDigits)
        var fracDigits = 0
        if b.first == UInt8(ascii: ".") {
            b = b.dropFirst()
            fracDigits = b.prefix(while: isDigitByte).count
            b = b.dropFirst(fracDigits)
        }
        guard intDigits + fracDigits > 0 else { return false }
        if let e = b.first, e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            b = b.dropFirst()
            if let sign = b.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { b = b.dropFirst() }
            let expDigits = b.prefix(while: isDigitByte).count
            guard expDigits > 0 else { return false }
            b = b.dropFirst(expDigits)
        }
        return b.isEmpty
    }
}
