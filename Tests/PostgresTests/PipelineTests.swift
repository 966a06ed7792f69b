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
}
