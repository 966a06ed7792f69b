import Postgres
import StockwireTestSupport
import Testing

@Suite struct PostgresErrorTests {
    @Test func retryableStates() {
        #expect(PostgresError(code: .queryFailed, sqlState: "40001", message: "x").isRetryable)
        #expect(PostgresError(code: .queryFailed, sqlState: "40P01", message: "x").isRetryable)
        #expect(!PostgresError(code: .queryFailed, sqlState: "23505", message: "x").isRetryable)
        #expect(!PostgresError(code: .connectionLost, message: "x").isRetryable)
    }
}

/// Errors as the server reports them.
@Suite struct PostgresErrorIntegrationTests {
    @Test func uniqueViolationSurfacesSQLStateAndStatementButNotValues() async throws {
        try await TestDatabase.withSchema { schema in
            let db = try await schema.connect()
            try await db.execute("CREATE TABLE stock (sku text PRIMARY KEY)")
            let insert = "INSERT INTO stock (sku) VALUES ($1)"
            try await db.query(insert, ["secret-sku"])
            let error = try #require(
                await #expect(throws: PostgresError.self) {
                    try await db.query(insert, ["secret-sku"])
                })
            #expect(error.code == .queryFailed)
            #expect(error.sqlState == "23505")
            #expect(error.constraintName == "stock_pkey")
            #expect(error.statement == insert)
            #expect(error.message.contains("duplicate key"))
            #expect(!error.isRetryable)
            #expect(!error.description.contains("secret-sku"))
            #expect(error.detail?.contains("secret-sku") == true)
            // The connection stays usable after a statement error.
            #expect(try await db.query("SELECT count(*) FROM stock").scalar(Int.self) == 1)
        }
    }

    @Test func syntaxErrorCarriesSQLState() async throws {
        try await TestDatabase.withSchema { schema in
            let db = try await schema.connect()
            let error = try #require(await #expect(throws: PostgresError.self) { try await db.execute("SELEKT 1") })
            #expect(error.sqlState == "42601")
            #expect(error.statement == "SELEKT 1")
        }
    }

    @Test func stringsWithNULAreRejectedBeforeSending() async throws {
        try await TestDatabase.withSchema { schema in
            let db = try await schema.connect()
            let error = try #require(
                await #expect(throws: PostgresError.self) {
                    try await db.query("SELECT $1::text", ["a\u{0}b"])
                })
            #expect(error.code == .invalidArgument)
        }
    }
}
