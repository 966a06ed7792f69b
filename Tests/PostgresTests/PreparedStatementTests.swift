import Postgres
import StockwireTestSupport
import Testing

@Suite struct PreparedStatementIntegrationTests {
    static let onHand = PostgresStatement(name: "test_on_hand", sql: "SELECT on_hand FROM stock WHERE sku = $1")
    static let preparedCount = "SELECT count(*) FROM pg_prepared_statements WHERE name = $1"

    @Test func preparedStatementIsPreparedOnceAndReused() async throws {
        try await TestDatabase.withSchema { schema in
            let db = try await schema.connect()
            try await db.execute(
                "CREATE TABLE stock (sku text PRIMARY KEY, on_hand bigint); INSERT INTO stock VALUES ('a', 1), ('b', 2)"
            )
            #expect(try await db.query(Self.onHand, ["a"]).scalar(Int64.self) == 1)
            #expect(try await db.query(Self.onHand, ["b"]).scalar(Int64.self) == 2)
            #expect(try await db.query(Self.onHand, ["missing"]).isEmpty)
            let inTransaction = try await db.transaction { tx in
                try await tx.query(Self.onHand, ["b"]).scalar(Int64.self)
            }
            #expect(inTransaction == 2)
            #expect(try await db.query(Self.preparedCount, [Self.onHand.name]).scalar(Int.self) == 1)

            // Another connection has its own statements.
            let other = try await schema.connect()
            #expect(try await other.query(Self.preparedCount, [Self.onHand.name]).scalar(Int.self) == 0)
        }
    }

    @Test func sameNameWithDifferentSQLIsRefused() async throws {
        try await TestDatabase.withSchema { schema in
            let db = try await schema.connect()
            try await db.query(PostgresStatement(name: "dup", sql: "SELECT 1"))
            let error = try #require(
                await #expect(throws: PostgresError.self) {
                    try await db.query(PostgresStatement(name: "dup", sql: "SELECT 2"))
                })
            #expect(error.code == .preparedStatementConflict)
        }
    }

    @Test func statementsAreRepreparedAfterDeallocateAndReset() async throws {
        try await TestDatabase.withSchema { schema in
            let db = try await schema.connect()
            let statement = PostgresStatement(name: "twice", sql: "SELECT $1::int + 1")
            #expect(try await db.query(statement, [1]).scalar(Int.self) == 2)
            try await db.execute("DEALLOCATE ALL")
            #expect(try await db.query(statement, [2]).scalar(Int.self) == 3)
            try await db.reset()
            #expect(try await db.query(statement, [3]).scalar(Int.self) == 4)
        }
    }
}
