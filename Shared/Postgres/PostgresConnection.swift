import Logging
import Synchronization

/// One PostgreSQL session over libpq, safe to share between tasks.
///
/// Each connection owns a dedicated thread on which every blocking libpq call runs, so the Swift cooperative pool is
/// never blocked. Operations from different tasks are serialised: a simple query holds the connection for one round
/// trip, a ``transaction(isolation:caller:_:)`` for its whole body, so other tasks' statements never land inside it.
///
/// ```swift
/// let db = try await PostgresConnection.connect("host=db user=stockwire dbname=stockwire", logger: logger)
/// let rows = try await db.query("SELECT sku, on_hand FROM stock WHERE shop = $1", [shop])
/// ```
public final class PostgresConnection: Sendable {
    /// Where this connection points, `user@host:port/dbname` (never the password), for logs and messages.
    public let target: String

    let logger: Logger
    let gate = ConnectionGate()
    private let worker: ConnectionWorker
    private let session: LibPQSession
    /// The libpq status after the last job that ran. (A box the jobs capture, not `self`: a job must never hold
    /// the last reference to the connection, whose deinit submits a job of its own.)
    private let lastStatus = LastStatus()
    /// The transaction that holds the lease, if any, and its `BEGIN` until its first statement.
    let openTransaction = OpenTransaction()

    private final class LastStatus: Sendable {
        /// True while `CONNECTION_OK`.
        let connected = Atomic<Bool>(true)
    }

    private init(target: String, logger: Logger, worker: ConnectionWorker, session: LibPQSession) {
        self.target = target
        self.logger = logger
        self.worker = worker
        self.session = session
    }

    deinit {
        // The job keeps the session alive until the worker thread has closed it; then the thread ends.
        let session = self.session
        worker.submit { session.finish() }
        worker.stop()
    }

    // MARK: Lifecycle

    /// Opens a connection.
    ///
    /// - Parameters:
    ///   - conninfo: A libpq connection string, `key=value …` or `postgresql://user:password@host:port/db?…`.
    ///   - connectTimeout: Maximum wait for the connection, per host (libpq `connect_timeout`, whole seconds,
    ///     at least 2). Overrides a `connect_timeout` in `conninfo`.
    ///   - logger: Receives connection events and server notices; never passwords or parameter values.
    /// - Throws: ``PostgresError`` with code ``PostgresError/Code/connectionFailed``, naming user, host and database.
    public static func connect(
        _ conninfo: String,
        connectTimeout: Duration = .seconds(10),
        logger: Logger = Logger(label: "stockwire.postgres")
    ) async throws -> PostgresConnection {
        let worker = ConnectionWorker(name: "stockwire-postgres")
        let session = LibPQSession(logger: logger)
        do {
            try await worker.run { try session.connect(conninfo: conninfo, connectTimeout: connectTimeout) }
        } catch {
            worker.stop()
            throw error
        }
        let target = try await worker.run { session.target }
        return PostgresConnection(target: target, logger: logger, worker: worker, session: session)
    }

    /// Closes the connection and ends its thread; later calls throw ``PostgresError/Code/connectionClosed``.
    public func close() async {
        _ = try? await gate.withLease {
            try await worker.run { [session] in session.finish() }
        }
        worker.stop()
    }

    /// Re-establishes a lost connection with the original parameters (libpq `PQreset`).
    ///
    /// Session state is gone afterwards: `SET`s, temporary tables, prepared statements (they are re-prepared
    /// automatically on next use).
    public func reset() async throws {
        try await withSession { session in try session.reset() }
    }

    /// Whether the connection is currently usable (libpq status `CONNECTION_OK`); no round trip, but it waits
    /// behind the statements already submitted. A readiness probe uses ``unreadiness(stallAfter:)``.
    public var isConnected: Bool {
        get async {
            (try? await worker.run { [session, lastStatus] in
                let connected = session.isConnected
                lastStatus.connected.store(connected, ordering: .relaxed)
                return connected
            }) ?? false
        }
    }

    /// Why the connection is not fit to serve, or nil when it looks fit; answers at once, without waiting behind
    /// the statements (which is what a readiness probe needs while a network cut holds one for minutes).
    ///
    /// - A statement (or any job on the connection) running longer than `stallAfter`: the database is not
    ///   answering. libpq gives up only at `tcp_user_timeout`, and until then everything else waits in line.
    /// - The connection was found lost by the last statement that ran.
    public func unreadiness(stallAfter: Duration) -> String? {
        if let busy = worker.busyFor, busy > stallAfter {
            let seconds = Double(busy.components.seconds) + Double(busy.components.attoseconds) / 1e18
            return "database not answering: a statement has waited \(String(format: "%.1f", seconds)) s"
        }
        return lastStatus.connected.load(ordering: .relaxed) ? nil : "database connection lost"
    }

    // MARK: Statements

    /// Runs one statement with `$1, $2, …` parameters sent separately from the SQL (never interpolated).
    ///
    /// Pass `nil` for SQL `NULL`; arrays become array literals (cast them: `$1::bigint[]`).
    @discardableResult
    public func query(
        _ sql: String, _ parameters: [(any PostgresEncodable)?] = []
    ) async throws -> PostgresQueryResult {
        let texts = Self.texts(parameters)
        return try await withSession { session in try session.query(sql, parameters: texts) }
    }

    /// Runs a script of one or more `;`-separated statements without parameters; returns the last one's result.
    ///
    /// Outside a transaction the script runs as one implicit transaction unless it contains its own
    /// `BEGIN`/`COMMIT`.
    @discardableResult
    public func execute(_ sql: String) async throws -> PostgresQueryResult {
        try await withSession { session in try session.execute(sql) }
    }

    /// Runs a prepared statement, preparing it on this connection the first time its name is used.
    @discardableResult
    public func query(
        _ statement: PostgresStatement, _ parameters: [(any PostgresEncodable)?] = []
    ) async throws -> PostgresQueryResult {
        let texts = Self.texts(parameters)
        return try await withSession { session in
            try session.query(prepared: statement.name, sql: statement.sql, parameters: texts)
        }
    }

    // MARK: Internals

    /// Runs `body` on the connection's thread while holding the connection (or inside the caller's lease).
    func withSession<T: Sendable>(_ body: @escaping @Sendable (LibPQSession) throws -> T) async throws -> T {
        try await gate.withLease(isolation: nil) {
            try await withLeasedSession(body)
        }
    }

    /// Runs `body` on the connection's thread, assuming the caller already holds the lease; notes whether the
    /// connection is still up afterwards (``unreadiness(stallAfter:)``).
    func withLeasedSession<T: Sendable>(_ body: @escaping @Sendable (LibPQSession) throws -> T) async throws -> T {
        let begin = takeBegin()
        return try await worker.run { [session, lastStatus, openTransaction] in
            defer { lastStatus.connected.store(session.isConnected, ordering: .relaxed) }
            if let begin { _ = try session.pipeline([try Self.beginning(begin, on: session, noting: openTransaction)]) }
            return try body(session)
        }
    }

    /// Runs `items` as one pipeline, the open transaction's `BEGIN` first when this is its first statement.
    func pipeline(
        _ items: [(statement: PostgresStatement, parameters: [String?])]
    ) async throws -> [PostgresQueryResult] {
        let begin = takeBegin()
        return try await worker.run { [session, lastStatus, openTransaction] in
            defer { lastStatus.connected.store(session.isConnected, ordering: .relaxed) }
            guard let begin else {
                // One named statement needs no pipeline: the plain call (which also prepares again after a DEALLOCATE).
                if items.count == 1, let only = items.first, !only.statement.name.isEmpty {
                    return [
                        try session.query(prepared: only.statement.name, sql: only.statement.sql, parameters: only.parameters)
                    ]
                }
                return try session.pipeline(items)
            }
            let first = try Self.beginning(begin, on: session, noting: openTransaction)
            return Array(try session.pipeline([first] + items).dropFirst())
        }
    }

    /// The `BEGIN` still to send, once.
    private func takeBegin() -> String? { openTransaction.takeBegin() }

    /// The `BEGIN` to send first; refused when the session is already in a transaction (one begun by hand).
    private static func beginning(
        _ begin: String, on session: LibPQSession, noting openTransaction: OpenTransaction
    ) throws -> (statement: PostgresStatement, parameters: [String?]) {
        if try session.isInTransaction() {
            throw PostgresError(
                code: .transactionAlreadyActive,
                message: "\(session.target): a transaction is already open on this connection; "
                    + "nest work in the existing transaction instead", statement: begin)
        }
        openTransaction.began()
        return (unnamed(begin), [])
    }

    /// A statement sent with its SQL, not prepared (`BEGIN`, `COMMIT`).
    static func unnamed(_ sql: String) -> PostgresStatement { PostgresStatement(name: "", sql: sql) }

    static func texts(_ parameters: [(any PostgresEncodable)?]) -> [String?] {
        parameters.map { $0?.postgresText }
    }
}
