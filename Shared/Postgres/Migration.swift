/// One versioned schema change, applied at most once per database by ``Migrator``.
public struct Migration: Sendable, Hashable {
    /// Position in the migration order; unique and positive. Never renumber an applied migration.
    public let version: Int
    /// A short description recorded alongside the version.
    public let name: String
    /// The SQL script; may hold several statements. It runs inside a transaction, so it must not use statements
    /// that refuse to (such as `CREATE INDEX CONCURRENTLY`).
    public let sql: String

    /// Creates a migration.
    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }
}
