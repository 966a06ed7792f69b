/// Encodes and decodes one-dimensional PostgreSQL array literals (`{a,"b c",NULL}`).
///
/// Use it to send a whole batch as one parameter: `SELECT * FROM unnest($1::text[], $2::bigint[])`.
/// Multi-dimensional arrays are not supported.
public enum PostgresArrayLiteral {
    /// Encodes element texts as an array literal; `nil` becomes `NULL`.
    ///
    /// Every non-NULL element is double-quoted with `"` and `\` backslash-escaped, so commas, braces, spaces,
    /// the word `NULL` and empty strings all survive. Quoting is valid for every element type (`{"1","2"}` is a
    /// fine `bigint[]`).
    public static func encode(_ elements: [String?]) -> String {
        // Built as UTF-8 bytes, whole elements at a time: batches send thousands of elements per statement.
        var capacity = 2
        for element in elements { capacity += (element?.utf8.count ?? 4) + 3 }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(capacity)
        bytes.append(UInt8(ascii: "{"))
        for (position, element) in elements.enumerated() {
            if position > 0 { bytes.append(UInt8(ascii: ",")) }
            guard let element else {
                bytes.append(contentsOf: [0x4E, 0x55, 0x4C, 0x4C])  // NULL
                continue
            }
            bytes.append(UInt8(ascii: "\""))
            let utf8 = element.utf8
            if utf8.contains(where: { $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
                for byte in utf8 {
                    if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { bytes.append(UInt8(ascii: "\\")) }
                    bytes.append(byte)
                }
            } else {
                bytes.append(contentsOf: utf8)
            }
            bytes.append(UInt8(ascii: "\""))
        }
        bytes.append(UInt8(ascii: "}"))
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Encodes encodable elements as an array literal.
    public static func encode<Element: PostgresEncodable>(_ elements: [Element]) -> String {
        encode(elements.map(\.postgresText))
    }

    /// Decodes a one-dimensional array literal into element texts (`nil` for `NULL`), or `nil` if malformed.
    ///
    /// Accepts the server's output, including an optional dimension prefix such as `[0:1]={a,b}`.
    public static func decode(_ literal: String) -> [String?]? {
        var scalars = Substring(literal).unicodeScalars[...]
        if scalars.first == "[" {
            guard let equals = scalars.firstIndex(of: "=") else { return nil }
            scalars = scalars[scalars.index(after: equals)...]
        }
        guard scalars.first == "{", scalars.last == "}" else { return nil }
        scalars = scalars.dropFirst().dropLast()

        var elements: [String?] = []
        var iterator = scalars.makeIterator()
        var current = String.UnicodeScalarView()
        var quoted = false
        var inQuotes = false
        var sawAnything = false

        func finishElement() -> Bool {
            if quoted {
                elements.append(String(current))
            } else {
                let text = String(current).trimmingWhitespace()
                if text.isEmpty { return false }
                elements.append(text.uppercased() == "NULL" ? nil : text)
            }
            current = String.UnicodeScalarView()
            quoted = false
            return true
        }

        while let scalar = iterator.next() {
            sawAnything = true
            if inQuotes {
                switch scalar {
                case "\\":
                    guard let escaped = iterator.next() else { return nil }
                    current.append(escaped)
                case "\"": inQuotes = false
                default: current.append(scalar)
                }
                continue
            }
            switch scalar {
            case "\"":
                guard String(current).trimmingWhitespace().isEmpty, !quoted else { return nil }
                current = String.UnicodeScalarView()
                quoted = true
                inQuotes = true
            case "\\":
                guard let escaped = iterator.next() else { return nil }
                current.append(escaped)
            case ",":
                guard finishElement() else { return nil }
            case "{", "}":
                return nil  // nested arrays are not supported
            default:
                if quoted {
                    guard scalar.properties.isWhitespace else { return nil }
                } else {
                    current.append(scalar)
                }
            }
        }
        if inQuotes { return nil }
        if !sawAnything { return [] }
        guard finishElement() else { return nil }
        return elements
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        var scalars = unicodeScalars[...]
        while let first = scalars.first, first.properties.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.properties.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}
