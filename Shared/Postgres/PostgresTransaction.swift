/// The handle a transaction body uses to run statements inside that transaction.
///
/// It is only valid during the body; using it afterwards throws ``PostgresError/Code/transactionClosed``.
public struct PostgresTransaction: Sendable {
    /// The connection the transaction runs on.
    public let connection: PostgresConnection
    /// The isolation level the transaction began with.
    public let isolation: PostgresIsolationLevel
    /// Which attempt this is, starting at 1; greater than 1 only inside a retrying transaction.
    public let attempt: Int

    let scope: TransactionScope

    /// Runs one statement with `$1, $2, …` parameters inside the transaction.
    @discardableResult
    public func query(
        _ sql: String, _ parameters: [(any PostgresEncodable)?] = []
    ) async throws -> PostgresQueryResult {
        let texts = PostgresConnection.texts(parameters)
        return try await run { session in try session.query(sql, parameters: texts) }
    }

    /// Runs a prepared statement inside the transaction.
    @discardableResult
    public func query(
        _ statement: PostgresStatement, _ parameters: [(any PostgresEncodable)?] = []
    ) async throws -> PostgresQueryResult {
        let texts = PostgresConnection.texts(parameters)
        // As a pipeline of one: the transaction's BEGIN rides with it when it is the first statement.
        return try await run([(statement, texts)])[0]
    }

    /// Runs prepared statements inside the transaction as one pipeline: one round trip for all of them, each result
    /// in the order given. The server runs them in order; the first failure is thrown and the transaction is then
    /// aborted, as after any failed statement. Use it for statements that do not need each other's results on our side.
    ///
    /// `commit`: `COMMIT` goes in the same round trip, after the statements; the transaction is then over, and the
    /// body returns without another statement. A failed statement skips the `COMMIT` and is thrown, and the transaction
    /// rolls back as usual.
    @discardableResult
    public func pipeline(
        _ items: [(PostgresStatement, [(any PostgresEncodable)?])], commit: Bool = false
    ) async throws -> [PostgresQueryResult] {
        guard !items.isEmpty || commit else { return [] }
        var texts = items.map { (statement: $0.0, parameters: PostgresConnection.texts($0.1)) }
        if commit { texts.append((PostgresConnection.unnamed("COMMIT"), [])) }
        var results = try await run(texts)
        if commit {
            let tag = results.removeLast().commandTag
            scope.committed()
            if tag == "ROLLBACK" { throw PostgresConnection.abortedAtCommit(connection.target) }
        }
        return results
    }

    /// Runs a parameterless script of one or more statements inside the transaction.
    @discardableResult
    public func execute(_ sql: String) async throws -> PostgresQueryResult {
        try await run { session in try session.execute(sql) }
    }

    private func run<T: Sendable>(_ body: @escaping @Sendable (LibPQSession) throws -> T) async throws -> T {
        try checkActive()
        // The transaction holds the connection's lease for its whole body, so go straight to the session even if
        // this handle was passed to a task that does not inherit the lease.
        return try await connection.withLeasedSession(body)
    }

    private func run(
        _ items: [(statement: PostgresStatement, parameters: [String?])]
    ) async throws -> [PostgresQueryResult] {
        try checkActive()
        return try await connection.pipeline(items)
    }

    private func checkActive() throws {
        guard scope.isActive else {
            throw PostgresError(
                code: .transactionClosed, message: "transaction on \(connection.target) has already ended")
        }
    }
}
