import Postgres
import StockwireTestSupport
import Synchronization
import Testing

@Suite struct TransactionIntegrationTests {
    @Test func committedTransactionIsVisibleElsewhere() async throws {
        try await TestDatabase.withSchema { schema in
            let db = try await schema.connect()
            let other = try await schema.connect()
            try await db.execute("CREATE TABLE t (v int)")
            let returned = try await db.transaction(isolation: .repeatableRead) { tx in
                try await tx.query("INSERT INTO t VALUES ($1)", [7])
                return "done"
            }
            #expect(returned == "done")
            #expect(try await other.query("SELECT count(*) FROM t").scalar(Int.self) == 1)
        }
    }

    @Test func failedTransactionRollsBack() async throws {
        try await TestDatabase.withSchema { schema in
            let db = try await schema.connect()
            try await db.execute("CREATE TABLE t (v int)")
            await #expect(throws: PlannedFailure.self) {
                try await db.transaction { tx in
                    try await tx.query("INSERT INTO t VALUES (1)")
                    throw PlannedFailure()
                }
            }
            #expect(try await db.query("SELECT count(*) FROM t").scalar(Int.self) == 0)
            // The connection is back outside any transaction: a new one can begin.
            try await db.transaction { tx in try await tx.query("INSERT INTO t VALUES (2)") }
            #expect(try await db.query("SELECT count(*) FROM t").scalar(Int.self) == 1)
        }
    }

    @Test func swallowedStatementErrorMakesCommitFail() async throws {
        try await TestDatabase.withSchema { schema in
            let db = try await schema.connect()
            try await db.execute("CREATE TABLE t (v int PRIMARY KEY)")
            let error = try #require(
                await #expect(throws: PostgresError.self) {
                    try await db.transaction { tx in
                        try await tx.query("INSERT INTO t VALUES (1)")
                        _ = try? await tx.query("INSERT INTO t VALUES (1)")
                    }
                })
            #expect(error.code == .transactionAborted)
            #expect(try await db.query("SELECT count(*) FROM t").scalar(Int.self) == 0)
        }
    }

    @Test func nestedTransactionIsRefusedAndHandleExpires() async throws {
        try await TestDatabase.withSchema { schema in
            let db = try await schema.connect()
            var escaped: PostgresTransaction?
            let error = try #require(
                await #expect(throws: PostgresError.self) {
                    try await db.transaction { tx in
                        escaped = tx
                        try await db.transaction { _ in }
                    }
                })
            #expect(error.code == .transactionAlreadyActive)
            let expired = try #require(
                await #expect(throws: PostgresError.self) {
                    try await escaped?.query("SELECT 1")
                })
            #expect(expired.code == .transactionClosed)
        }
    }

    @Test func retryingTransactionRetriesSerializationFailure() async throws {
        try await TestDatabase.withSchema { schema in
            let db = try await schema.connect()
            let rival = try await schema.connect()
            try await db.execute(
                "CREATE TABLE stock (sku text PRIMARY KEY, on_hand bigint); INSERT INTO stock VALUES ('a', 10)")
            var attempts = 0
            let written = try await db.retryingTransaction(isolation: .serializable) { tx in
                attempts += 1
                let onHand = try await tx.query("SELECT on_hand FROM stock WHERE sku = 'a'").scalar(Int64.self)
                if tx.attempt == 1 {
                    // A concurrent committed update after our snapshot: our update must fail with 40001.
                    try await rival.query("UPDATE stock SET on_hand = on_hand + 5 WHERE sku = 'a'")
                }
                try await tx.query("UPDATE stock SET on_hand = $1 WHERE sku = 'a'", [onHand - 3])
                return onHand - 3
            }
            #expect(attempts == 2)
            #expect(written == 12)
            #expect(try await rival.query("SELECT on_hand FROM stock").scalar(Int64.self) == 12)
        }
    }

    @Test func retryingTransactionRetriesDeadlockVictim() async throws {
        try await TestDatabase.withSchema { schema in
            let db = try await schema.connect()
            let rival = try await schema.connect()
            try await db.execute("CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t VALUES (1, 0), (2, 0)")
            // Make `db` the one that detects the deadlock (and is chosen as victim), quickly.
            try await db.execute("SET deadlock_timeout = '50ms'")
            try await rival.execute("SET deadlock_timeout = '10s'")
            let attempts = Atomic(0)
            let rivalDone = Mutex<Task<Void, any Error>?>(nil)
            try await db.retryingTransaction(isolation: .readCommitted) { tx in
                attempts.add(1, ordering: .relaxed)
                try await tx.query("UPDATE t SET v = v + 1 WHERE id = 1")
                if tx.attempt == 1 {
                    let (locked, signal) = AsyncStream.makeStream(of: Void.self)
                    let task = Task {
                        try await rival.transaction { rivalTx in
                            try await rivalTx.query("UPDATE t SET v = v + 10 WHERE id = 2")
                            signal.yield()
                            try await rivalTx.query("UPDATE t SET v = v + 10 WHERE id = 1")  // waits for db
                        }
                    }
                    rivalDone.withLock { $0 = task }
                    for await _ in locked { break }
                }
                try await tx.query("UPDATE t SET v = v + 1 WHERE id = 2")  // waits for rival: deadlock
            }
            try await rivalDone.withLock { $0 }?.value
            #expect(attempts.load(ordering: .relaxed) == 2)
            let values = try await db.query("SELECT v FROM t ORDER BY id").map { try $0.decode(Int.self, at: 0) }
            #expect(values == [11, 11])
        }
    }

    @Test func retryStopsAtMaxAttemptsAndNeverRetriesOtherErrors() async throws {
        try await TestDatabase.withSchema { schema in
            let db = try await schema.connect()
            var attempts = 0
            let policy = PostgresRetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(1))
            let exhausted = try #require(
                await #expect(throws: PostgresError.self) {
                    try await db.retryingTransaction(retry: policy) { _ in
                        attempts += 1
                        throw PostgresError(code: .queryFailed, sqlState: "40001", message: "synthetic conflict")
                    }
                })
            #expect(exhausted.sqlState == "40001")
            #expect(attempts == 3)

            attempts = 0
            await #expect(throws: PlannedFailure.self) {
                try await db.retryingTransaction(retry: policy) { _ in
                    attempts += 1
                    throw PlannedFailure()
                }
            }
            #expect(attempts == 1)
        }
    }
}

/// Compiles only if transaction bodies may touch the calling actor's state (they run on the caller's isolation).
private actor StockLedger {
    private(set) var appliedCount = 0

    func apply(_ delta: Int64, on db: PostgresConnection) async throws {
        try await db.retryingTransaction { tx in
            try await tx.query("UPDATE stock SET on_hand = on_hand + $1", [delta])
            appliedCount += 1
        }
    }
}

@Suite struct ActorIsolationIntegrationTests {
    @Test func transactionBodyRunsOnCallingActor() async throws {
        try await TestDatabase.withSchema { schema in
            let db = try await schema.connect()
            try await db.execute("CREATE TABLE stock (on_hand bigint); INSERT INTO stock VALUES (0)")
            let ledger = StockLedger()
            try await ledger.apply(5, on: db)
            try await ledger.apply(-2, on: db)
            #expect(await ledger.appliedCount == 2)
            #expect(try await db.query("SELECT on_hand FROM stock").scalar(Int64.self) == 3)
        }
    }
}

/// An error thrown on purpose by test bodies.
struct PlannedFailure: Error, Equatable {}
