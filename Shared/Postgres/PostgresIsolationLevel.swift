/// A transaction isolation level.
public enum PostgresIsolationLevel: String, Sendable, Hashable, CaseIterable {
    /// `READ COMMITTED`, PostgreSQL's default.
    case readCommitted = "READ COMMITTED"
    /// `REPEATABLE READ`: one snapshot for the whole transaction; concurrent updates fail with 40001.
    case repeatableRead = "REPEATABLE READ"
    /// `SERIALIZABLE`: as if transactions ran one at a time; conflicts fail with 40001.
    case serializable = "SERIALIZABLE"

    /// The `BEGIN` statement for this level.
    var beginStatement: String { "BEGIN ISOLATION LEVEL \(rawValue)" }
}
