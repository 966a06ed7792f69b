import Postgres
import StockwireTestSupport
import Testing

/// `PostgresTransaction.pipeline`: several statements in one round trip, as the calculator's batch sends them.
@Suite struct PipelineIntegrationTests {
    static let insert = PostgresStatement(
        name: "pipe_insert", sql: "INSERT INTO stock (sku, on_hand) VALUES ($1, $2) RETURNING sku")
    static let total = PostgresStatement(name: "pipe_total", sql: "SELECT coalesce(sum(on_hand), 0) FROM stock")
    static let bump = PostgresStatement(name: "pipe_bump", sql: "UPDATE stock SET on_hand = on_hand + $1")
    static let preparedCount = "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'pipe_%'"

    @Test func resultsComeBackInTheOrderSentAndSeeTheStatementsBefore() async throws {
        try await TestDatabase.withSchema { schema in
            let db = try await schema.connect()
            try await db.execute("CREATE TABLE stock (sku text PRIMARY KEY, on_hand bigint)")
            let results = try await db.transaction { tx in
                try await tx.pipeline([
                    (Self.insert, ["a", 1]), (Self.insert, ["b", 2]), (Self.bump, [10]), (Self.total, []),
                ])
            }
            #expect(results.count == 4)
            #expect(try results[0].scalar(String.self) == "a")
            #expect(try results[1].scalar(String.self) == "b")
            #expect(results[2].affectedRows == 2)
            #expect(try results[3].scalar(Int64.self) == 23)
            // Each statement prepared once, also when it appears twice in one pipeline; a later pipeline and a
            // single query use them as they are.
            #expect(try await db.query(Self.preparedCount).scalar(Int.self) == 3)
            let again = try await db.transaction { tx in try await tx.pipeline([(Self.insert, ["c", 3]), (Self.total, [])]) }
            #expect(try again[1].scalar(Int64.self) == 26)
            #expect(try await db.query(Self.total).scalar(Int64.self) == 26)
            #expect(try await db.query(Self.preparedCount).scalar(Int.self) == 3)
        }
    }

    @Test func theFirstFailureIsThrownTheRestIsSkippedAndTheTransactionRollsBack() async throws {
        try await TestDatabase.withSchema { schema in
            let db = try await schema.connect()
            try await db.execute("CREATE TABLE stock (sku text PRIMARY KEY, on_hand bigint); INSERT INTO stock VALUES ('a', 1)")
            let error = try #require(
                await #expect(throws: PostgresError.self) {
                    try await db.transaction { tx in
                        try await tx.pipeline([(Self.bump, [1]), (Self.insert, ["a", 5]), (Self.total, [])])
                    }
                })
            #expect(error.sqlState == "23505")
            #expect(error.statement == Self.insert.sql)
            // Rolled back: the bump before the failure is gone.
            #expect(try await db.query(Self.total).scalar(Int64.self) == 1)
            // The connection and its statements are usable: the ones prepared before the failure are known, the one
            // skipped after it is prepared now (preparing twice would fail with 42P05).
            let results = try await db.transaction { tx in
                try await tx.pipeline([(Self.bump, [1]), (Self.insert, ["b", 5]), (Self.total, [])])
            }
            #expect(try results[2].scalar(Int64.self) == 7)
        }
    }

    @Test func aNameWithOtherSQLIsRefusedBeforeAnythingIsSent() async throws {
        try await TestDatabase.withSchema { schema in
            let db = try await schema.connect()
            try await db.execute("CREATE TABLE stock (sku text PRIMARY KEY, on_hand bigint)")
            let other = PostgresStatement(name: Self.insert.name, sql: "SELECT 1")
            let error = try #require(
                await #expect(throws: PostgresError.self) {
                    try await db.transaction { tx in try await tx.pipeline([(Self.insert, ["a", 1]), (other, [])]) }
                })
            #expect(error.code == .preparedStatementConflict)
            #expect(try await db.query(Self.total).scalar(Int64.self) == 0)
        }
    }

    // BEGIN waits for the body's first statement and goes with it; COMMIT may go with the last pipeline.

    @Test func commitWithTheLastPipelineEndsTheTransaction() async throws {
        try await TestDatabase.withSchema { schema in
            let db = try await schema.connect()
            let other = try await schema.connect()
            try await db.execute("CREATE TABLE stock (sku text PRIMARY KEY, on_hand bigint)")
            var escaped: PostgresTransaction?
            let results = try await db.transaction { tx in
                escaped = tx
                let first = try await tx.pipeline([(Self.insert, ["a", 1])])
                #expect(try await other.query(Self.total).scalar(Int64.self) == 0)  // not committed yet
                return first + (try await tx.pipeline([(Self.insert, ["b", 2]), (Self.total, [])], commit: true))
            }
            #expect(try results[2].scalar(Int64.self) == 3)
            #expect(try await other.query(Self.total).scalar(Int64.self) == 3)
            // Over: the handle refuses statements, and the connection is out of the transaction.
            let closed = try #require(await #expect(throws: PostgresError.self) { try await escaped?.query("SELECT 1") })
            #expect(closed.code == .transactionClosed)
            #expect(try await db.query("SELECT 1").scalar(Int.self) == 1)
            try await db.transaction { tx in try await tx.query(Self.bump, [1]) }
            #expect(try await other.query(Self.total).scalar(Int64.self) == 5)
        }
    }

    @Test func aFailureBeforeTheCommitInAPipelineRollsEverythingBack() async throws {
        try await TestDatabase.withSchema { schema in
            let db = try await schema.connect()
            try await db.execute("CREATE TABLE stock (sku text PRIMARY KEY, on_hand bigint); INSERT INTO stock VALUES ('a', 1)")
            let error = try #require(
                await #expect(throws: PostgresError.self) {
                    try await db.transaction { tx in
                        try await tx.query(Self.bump, [1])
                        try await tx.pipeline([(Self.insert, ["b", 1]), (Self.insert, ["a", 1])], commit: true)
                    }
                })
            #expect(error.sqlState == "23505")
            #expect(try await db.query(Self.total).scalar(Int64.self) == 1)
            #expect(try await db.query("SELECT count(*) FROM stock").scalar(Int.self) == 1)
        }
    }

    @Test func theFirstStatementThroughTheConnectionItselfIsInsideTheTransaction() async throws {
        try await TestDatabase.withSchema { schema in
            let db = try await schema.connect()
            try await db.execute("CREATE TABLE stock (sku text PRIMARY KEY, on_hand bigint)")
            struct Abandon: Error {}
            await #expect(throws: Abandon.self) {
                try await db.transaction { _ in
                    // Not through the handle: the BEGIN still goes first, so this insert rolls back too.
                    try await db.query(Self.insert, ["a", 1])
                    throw Abandon()
                }
            }
            #expect(try await db.query(Self.total).scalar(Int64.self) == 0)
        }
    }

    @Test func aNestedTransactionIsRefusedWithoutEndingTheOuterOne() async throws {
        try await TestDatabase.withSchema { schema in
            let db = try await schema.connect()
            try await db.execute("CREATE TABLE stock (sku text PRIMARY KEY, on_hand bigint)")
            try await db.transaction { tx in
                try await tx.query(Self.insert, ["a", 1])
                let nested = try #require(
                    await #expect(throws: PostgresError.self) { try await db.transaction { _ in } })
                #expect(nested.code == .transactionAlreadyActive)
                try await tx.query(Self.insert, ["b", 2])
            }
            #expect(try await db.query(Self.total).scalar(Int64.self) == 3)
        }
    }

    @Test func aTransactionBegunByHandIsNotRolledBackByARefusedOne() async throws {
        try await TestDatabase.withSchema { schema in
            let db = try await schema.connect()
            try await db.execute("CREATE TABLE stock (sku text PRIMARY KEY, on_hand bigint)")
            try await db.withExclusiveAccess { db in
                try await db.execute("BEGIN")
                try await db.query(Self.insert, ["a", 1])
                let refused = try #require(
                    await #expect(throws: PostgresError.self) {
                        try await db.transaction { tx in try await tx.query(Self.insert, ["b", 2]) }
                    })
                #expect(refused.code == .transactionAlreadyActive)
                try await db.execute("COMMIT")
            }
            #expect(try await db.query(Self.total).scalar(Int64.self) == 1)
        }
    }

    @Test func aConnectionLostInTheMiddleOfAPipelineIsLostNotWedged() async throws {
        try await TestDatabase.withSchema { schema in
            let db = try await schema.connect()
            try await db.execute("CREATE TABLE stock (sku text PRIMARY KEY, on_hand bigint); INSERT INTO stock VALUES ('a', 1)")
            // The backend ends itself while the rest of the pipeline waits behind it, results uncollected (what a
            // PostgreSQL crash under load did: the session stayed in pipeline mode and every later transaction was
            // refused as "already active").
            let suicide = PostgresStatement(name: "pipe_suicide", sql: "SELECT pg_terminate_backend(pg_backend_pid())")
            let error = try #require(
                await #expect(throws: PostgresError.self) {
                    try await db.transaction { tx in
                        try await tx.pipeline([(Self.bump, [1]), (suicide, []), (Self.total, [])], commit: true)
                    }
                })
            #expect(error.isConnectionLost, "\(error)")
            // Refused as lost until reset, never as "a transaction is already open".
            let before = try #require(
                await #expect(throws: PostgresError.self) { try await db.transaction { tx in try await tx.query(Self.total) } })
            #expect(before.isConnectionLost, "\(before)")
            try await db.reset()
            // (The test schema's search_path does not survive a reset: ask something that needs no table.)
            let one = PostgresStatement(name: "pipe_one", sql: "SELECT 1")
            let answer = try await db.transaction { tx in try await tx.pipeline([(one, [])], commit: true) }
            #expect(try answer[0].scalar(Int.self) == 1)
        }
    }
}
