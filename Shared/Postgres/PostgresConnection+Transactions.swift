import Logging

extension PostgresConnection {
    // MARK: Transactions

    /// Runs `body` in a transaction: `BEGIN`, then `COMMIT` if it returns or `ROLLBACK` if it throws.
    ///
    /// Other tasks using this connection wait until the transaction ends. Statements belong inside the transaction
    /// when they go through `tx` (or through this connection from the body's own task).
    ///
    /// - Throws: Whatever `body` throws (after rolling back); ``PostgresError/Code/transactionAborted`` when the body
    ///   swallowed a failed statement, so the server rolled back on `COMMIT`;
    ///   ``PostgresError/Code/transactionAlreadyActive`` when called inside another transaction.
    @discardableResult
    public func transaction<T>(
        isolation level: PostgresIsolationLevel = .readCommitted,
        caller: isolated (any Actor)? = #isolation,
        _ body: (PostgresTransaction) async throws -> T
    ) async throws -> T {
        try await runTransaction(level: level, attempt: 1, caller: caller, body)
    }

    /// Like ``transaction(isolation:caller:_:)``, but reruns the whole body when the transaction fails with a
    /// serialization failure (40001) or deadlock (40P01), after a short jittered backoff.
    ///
    /// The body must be safe to run more than once: side effects outside the database happen once per attempt.
    /// ``PostgresTransaction/attempt`` tells the body which attempt it is. After `policy.maxAttempts` the last error
    /// is thrown.
    @discardableResult
    public func retryingTransaction<T>(
        isolation level: PostgresIsolationLevel = .serializable,
        retry policy: PostgresRetryPolicy = .default,
        caller: isolated (any Actor)? = #isolation,
        _ body: (PostgresTransaction) async throws -> T
    ) async throws -> T {
        var attempt = 1
        while true {
            do {
                return try await runTransaction(level: level, attempt: attempt, caller: caller, body)
            } catch let error as PostgresError where error.isRetryable && attempt < policy.maxAttempts {
                let delay = policy.delay(afterAttempt: attempt)
                logger.debug(
                    "postgres transaction retry",
                    metadata: [
                        "target": "\(target)", "sqlstate": "\(error.sqlState ?? "")", "attempt": "\(attempt)",
                        "delay": "\(delay)",
                    ])
                try await Task.sleep(for: delay)
                attempt += 1
            }
        }
    }

    /// Gives `body` sole use of the connection for several statements or transactions, for session state such as
    /// advisory locks, `SET` or temporary tables. Other tasks wait until `body` returns.
    public func withExclusiveAccess<T>(
        caller: isolated (any Actor)? = #isolation,
        _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await gate.withLease(isolation: caller) { try await body(self) }
    }

    private func runTransaction<T>(
        level: PostgresIsolationLevel,
        attempt: Int,
        caller: isolated (any Actor)?,
        _ body: (PostgresTransaction) async throws -> T
    ) async throws -> T {
        try await gate.withLease(isolation: caller) {
            // BEGIN goes with the body's first statement: one round trip fewer.
            guard openTransaction.open(begin: level.beginStatement) else {
                throw PostgresError(
                    code: .transactionAlreadyActive,
                    message: "\(target): a transaction is already open on this connection; "
                        + "nest work in the existing transaction instead", statement: level.beginStatement)
            }
            let scope = TransactionScope()
            let transaction = PostgresTransaction(connection: self, isolation: level, attempt: attempt, scope: scope)
            let value: T
            do {
                value = try await body(transaction)
            } catch {
                scope.end()
                if openTransaction.close() { await rollback() }
                throw error
            }
            scope.end()
            // Nothing to end when the body committed with its last statements, or ran none (nothing began).
            let began = openTransaction.close()
            guard !scope.isCommitted, began else { return value }
            let commit = try await withLeasedSession { session in try session.execute("COMMIT") }
            if commit.commandTag == "ROLLBACK" { throw Self.abortedAtCommit(target) }
            return value
        }
    }

    /// The error of a `COMMIT` the server answered with `ROLLBACK`.
    static func abortedAtCommit(_ target: String) -> PostgresError {
        PostgresError(
            code: .transactionAborted,
            message: "\(target): transaction was rolled back at COMMIT because a statement in it failed "
                + "and the error was caught", statement: "COMMIT")
    }

    /// Best effort: the body's error is what the caller needs to see.
    private func rollback() async {
        do {
            try await withLeasedSession { session in
                if session.isConnected, try session.isInTransaction() { _ = try session.execute("ROLLBACK") }
            }
        } catch {
            logger.warning("postgres rollback failed", metadata: ["target": "\(target)", "error": "\(error)"])
        }
    }
}
