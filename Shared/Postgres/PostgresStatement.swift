/// A named statement that each connection prepares once (`PQprepare`) and then executes by name.
///
/// Declare statements as constants and reuse them; one name must always carry the same SQL.
///
/// ```swift
/// static let stockForSKU = PostgresStatement(name: "stock_for_sku", sql: "SELECT on_hand FROM stock WHERE sku = $1")
/// ```
public struct PostgresStatement: Sendable, Hashable {
    /// The server-side statement name, unique per connection.
    public let name: String
    /// The SQL with `$1, $2, …` placeholders.
    public let sql: String

    /// Creates a statement; nothing is sent to the server until first use.
    public init(name: String, sql: String) {
        self.name = name
        self.sql = sql
    }
}
