/// An error from the PostgreSQL wrapper: a stable ``Code`` plus what the server said.
///
/// The description names the statement but never parameter values or the connection password. Server messages can
/// still quote data (for example `invalid input syntax for type bigint: "abc"`), and ``detail`` often quotes key
/// values, so ``detail`` is kept out of the description; log it deliberately if you need it.
public struct PostgresError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable, machine-checkable error category.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case connectionFailed, connectionLost, connectionClosed, queryFailed, transactionAborted
            case transactionAlreadyActive, transactionClosed, unexpectedNull, decodingFailed, columnNotFound
            case invalidArgument, preparedStatementConflict, migrationFailed, unknownMigrationVersion
        }

        private let base: Base

        /// Could not establish the connection (bad address, authentication, timeout, malformed conninfo).
        public static let connectionFailed = Code(base: .connectionFailed)
        /// The connection broke (`PQstatus` is `CONNECTION_BAD`); call ``PostgresConnection/reset()``.
        public static let connectionLost = Code(base: .connectionLost)
        /// The connection was closed with ``PostgresConnection/close()``.
        public static let connectionClosed = Code(base: .connectionClosed)
        /// The server rejected a statement; see ``PostgresError/sqlState``.
        public static let queryFailed = Code(base: .queryFailed)
        /// `COMMIT` rolled back because an earlier statement in the transaction failed.
        public static let transactionAborted = Code(base: .transactionAborted)
        /// A transaction was started while the connection was already inside one.
        public static let transactionAlreadyActive = Code(base: .transactionAlreadyActive)
        /// A ``PostgresTransaction`` was used after its transaction ended.
        public static let transactionClosed = Code(base: .transactionClosed)
        /// A `NULL` was decoded into a non-optional type.
        public static let unexpectedNull = Code(base: .unexpectedNull)
        /// A value's text could not be decoded into the requested type.
        public static let decodingFailed = Code(base: .decodingFailed)
        /// No result column has the requested name or index.
        public static let columnNotFound = Code(base: .columnNotFound)
        /// An argument cannot be sent (for example a string containing NUL).
        public static let invalidArgument = Code(base: .invalidArgument)
        /// One prepared-statement name was used with two different SQL texts on the same connection.
        public static let preparedStatementConflict = Code(base: .preparedStatementConflict)
        /// A migration's SQL failed; the migration was rolled back.
        public static let migrationFailed = Code(base: .migrationFailed)
        /// The database records a migration version this code does not know (it is older than the database).
        public static let unknownMigrationVersion = Code(base: .unknownMigrationVersion)

        /// The code's name, for logs and metrics labels.
        public var description: String { base.rawValue }
    }

    /// What kind of failure this is.
    public var code: Code
    /// The five-character SQLSTATE reported by the server (`PG_DIAG_SQLSTATE`), if any.
    public var sqlState: String?
    /// The primary human-readable message.
    public var message: String
    /// The server's detail line (`PG_DIAG_MESSAGE_DETAIL`); may quote data values.
    public var detail: String?
    /// The violated constraint's name (`PG_DIAG_CONSTRAINT_NAME`), if any.
    public var constraintName: String?
    /// The statement that failed, without parameter values.
    public var statement: String?

    /// Creates an error.
    public init(
        code: Code, sqlState: String? = nil, message: String, detail: String? = nil, constraintName: String? = nil,
        statement: String? = nil
    ) {
        self.code = code
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.constraintName = constraintName
        self.statement = statement
    }

    /// Whether retrying the whole transaction may succeed: serialization failure (40001) or deadlock (40P01).
    public var isRetryable: Bool {
        sqlState == "40001" || sqlState == "40P01"
    }

    /// Whether the connection broke and needs ``PostgresConnection/reset()`` before further use.
    public var isConnectionLost: Bool { code == .connectionLost }

    public var description: String {
        var text = "postgres \(code)"
        if let sqlState { text += " [\(sqlState)]" }
        text += ": \(message)"
        if let constraintName { text += " (constraint \(constraintName))" }
        if let statement { text += " — statement: \(Self.abbreviate(statement))" }
        return text
    }

    private static func abbreviate(_ statement: String) -> String {
        let oneLine = statement.split(whereSeparator: \.isNewline).map { $0.trimmingSpaces() }.joined(separator: " ")
        return oneLine.count > 300 ? String(oneLine.prefix(300)) + "…" : oneLine
    }
}

extension Substring {
    fileprivate func trimmingSpaces() -> Substring {
        var result = self
        while let first = result.first, first == " " || first == "\t" { result.removeFirst() }
        while let last = result.last, last == " " || last == "\t" { result.removeLast() }
        return result
    }
}
