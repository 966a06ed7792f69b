import Foundation

/// A type that can be sent as a text-format query parameter.
public protocol PostgresEncodable: Sendable {
    /// The PostgreSQL text representation, or `nil` for SQL `NULL`.
    var postgresText: String? { get }
}

extension Optional: PostgresEncodable where Wrapped: PostgresEncodable {
    /// The wrapped value's text, or `NULL`.
    public var postgresText: String? { self?.postgresText }
}

extension String: PostgresEncodable {
    /// The string itself.
    public var postgresText: String? { self }
}

extension Substring: PostgresEncodable {
    /// The substring's text.
    public var postgresText: String? { String(self) }
}

extension Int64: PostgresEncodable {
    /// Decimal digits.
    public var postgresText: String? { String(self) }
}

extension Int: PostgresEncodable {
    /// Decimal digits.
    public var postgresText: String? { String(self) }
}

extension Int32: PostgresEncodable {
    /// Decimal digits.
    public var postgresText: String? { String(self) }
}

extension Double: PostgresEncodable {
    /// Shortest round-tripping decimal, or `NaN` / `Infinity` / `-Infinity`.
    public var postgresText: String? {
        if isNaN { return "NaN" }
        if isInfinite { return self < 0 ? "-Infinity" : "Infinity" }
        return description
    }
}

extension Bool: PostgresEncodable {
    /// `t` or `f`.
    public var postgresText: String? { self ? "t" : "f" }
}

extension Date: PostgresEncodable {
    /// An ISO 8601 `timestamptz` in UTC with microsecond precision.
    public var postgresText: String? { PostgresTimestamp.encode(self) }
}

extension UUID: PostgresEncodable {
    /// The canonical hyphenated form.
    public var postgresText: String? { uuidString }
}

extension Array: PostgresEncodable where Element: PostgresEncodable {
    /// A one-dimensional array literal, for parameters cast to `text[]`, `bigint[]` and so on.
    public var postgresText: String? { PostgresArrayLiteral.encode(map(\.postgresText)) }
}
