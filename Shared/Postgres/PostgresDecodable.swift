import Foundation

/// A type that can be read from PostgreSQL's text output format.
public protocol PostgresDecodable: Sendable {
    /// Parses the server's text representation; `nil` when the text is not a valid value of this type.
    init?(postgresText text: String)

    /// The value SQL `NULL` decodes to, or `nil` when `NULL` is an error for this type.
    static var postgresNull: Self? { get }
}

extension PostgresDecodable {
    /// `NULL` is an error unless the type says otherwise.
    public static var postgresNull: Self? { nil }
}

extension Optional: PostgresDecodable where Wrapped: PostgresDecodable {
    /// Decodes the wrapped value.
    public init?(postgresText text: String) {
        guard let value = Wrapped(postgresText: text) else { return nil }
        self = .some(value)
    }

    /// `NULL` decodes to `nil`.
    public static var postgresNull: Wrapped?? { .some(.none) }
}

extension String: PostgresDecodable {
    /// Any text is a valid `String`.
    public init?(postgresText text: String) { self = text }
}

extension Int64: PostgresDecodable {
    /// Parses `bigint`, `integer` or `smallint` text.
    public init?(postgresText text: String) { self.init(text, radix: 10) }
}

extension Int: PostgresDecodable {
    /// Parses `bigint`, `integer` or `smallint` text.
    public init?(postgresText text: String) { self.init(text, radix: 10) }
}

extension Int32: PostgresDecodable {
    /// Parses `integer` or `smallint` text.
    public init?(postgresText text: String) { self.init(text, radix: 10) }
}

extension Double: PostgresDecodable {
    /// Parses `double precision`, `real` or `numeric` text, including `NaN` and `±Infinity`.
    public init?(postgresText text: String) {
        switch text {
        case "NaN": self = .nan
        case "Infinity": self = .infinity
        case "-Infinity": self = -.infinity
        default: self.init(text)
        }
    }
}

extension Bool: PostgresDecodable {
    /// Parses `boolean` text (`t` / `f`).
    public init?(postgresText text: String) {
        switch text {
        case "t", "true", "TRUE", "1", "on", "yes": self = true
        case "f", "false", "FALSE", "0", "off", "no": self = false
        default: return nil
        }
    }
}

extension Date: PostgresDecodable {
    /// Parses ISO `timestamptz`, `timestamp` (taken as UTC) or `date` text; `±infinity` map to the distant dates.
    public init?(postgresText text: String) {
        guard let date = PostgresTimestamp.decode(text) else { return nil }
        self = date
    }
}

extension UUID: PostgresDecodable {
    /// Parses `uuid` text.
    public init?(postgresText text: String) { self.init(uuidString: text) }
}

extension Array: PostgresDecodable where Element: PostgresDecodable {
    /// Parses a one-dimensional array literal such as `{1,NULL,3}`; `NULL` elements need an optional `Element`.
    public init?(postgresText text: String) {
        guard let texts = PostgresArrayLiteral.decode(text) else { return nil }
        var elements: [Element] = []
        elements.reserveCapacity(texts.count)
        for text in texts {
            if let text {
                guard let element = Element(postgresText: text) else { return nil }
                elements.append(element)
            } else {
                guard let null = Element.postgresNull else { return nil }
                elements.append(null)
            }
        }
        self = elements
    }
}
