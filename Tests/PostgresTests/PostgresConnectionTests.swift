import Foundation
import StockwireTestSupport
import Testing

@testable import Postgres

@Suite struct PostgresConnectionIntegrationTests {
    @Test func parameterisedRoundTripOfEveryType() async throws {
        try await TestDatabase.withSchema { schema in
            let db = try await schema.connect()
            let beyondDouble: Int64 = 9_007_199_254_740_993  // 2^53 + 1: not representable as Double
            let date = Date(timeIntervalSince1970: 1_700_000_000.123456)
            let text = "héllo, 'world' \"quoted\" \\ {braces} 🚀"
            let noText: String? = nil
            let row = try #require(
                try await db.query(
                    """
                    SELECT $1::text AS text, $2::bigint AS big, $3::int AS int, $4::float8 AS double,
                           $5::bool AS yes, $6::bool AS no, $7::timestamptz AS at, $8::text AS null_text,
                           $9::bigint AS null_big, $10::bigint AS min, $11::uuid AS id
                    """,
                    [
                        text, beyondDouble, 42, 3.141592653589793, true, false, date, noText, nil, Int64.min,
                        UUID(uuidString: "6F9619FF-8B86-D011-B42D-00CF4FC964FF"),
                    ]
                ).first)
            #expect(try row.decode(String.self, column: "text") == text)
            #expect(try row.decode(Int64.self, column: "big") == beyondDouble)
            #expect(try row.decode(Int.self, column: "int") == 42)
            #expect(try row.decode(Double.self, column: "double") == 3.141592653589793)
            #expect(try row.decode(Bool.self, column: "yes") == true)
            #expect(try row.decode(Bool.self, column: "no") == false)
            let decoded = try row.decode(Date.self, column: "at")
            #expect(abs(decoded.timeIntervalSince1970 - date.timeIntervalSince1970) < 1e-6)
            #expect(try row.decode(String?.self, column: "null_text") == nil)
            #expect(try row.decode(Int64?.self, column: "null_big") == nil)
            #expect(try row.decode(Int64?.self, column: "big") == beyondDouble)
            #expect(try row.decode(Int64.self, column: "min") == Int64.min)
            #expect(try row.decode(UUID.self, column: "id") == UUID(uuidString: "6F9619FF-8B86-D011-B42D-00CF4FC964FF"))
            #expect(try row.isNull(at: 7))
            #expect(row.count == 11)

            let null = try #require(
                #expect(throws: PostgresError.self) {
                    try row.decode(String.self, column: "null_text")
                })
            #expect(null.code == .unexpectedNull)
            let missing = try #require(
                #expect(throws: PostgresError.self) {
                    try row.decode(String.self, column: "nope")
                })
            #expect(missing.code == .columnNotFound)
            let wrongType = try #require(
                #expect(throws: PostgresError.self) {
                    try row.decode(Int64.self, column: "text")
                })
            #expect(wrongType.code == .decodingFailed)
        }
    }

    @Test func specialDoublesRoundTrip() async throws {
        try await TestDatabase.withSchema { schema in
            let db = try await schema.connect()
            let row = try #require(
                try await db.query(
                    "SELECT $1::float8, $2::float8, $3::float8, $4::float8",
                    [Double.nan, Double.infinity, -Double.infinity, 1e-300]
                ).first)
            #expect(try row.decode(Double.self, at: 0).isNaN)
            #expect(try row.decode(Double.self, at: 1) == .infinity)
            #expect(try row.decode(Double.self, at: 2) == -.infinity)
            #expect(try row.decode(Double.self, at: 3) == 1e-300)
        }
    }

    @Test func timestampsDecodeInAnySessionTimeZone() async throws {
        try await TestDatabase.withSchema { schema in
            let db = try await schema.connect()
            try await db.execute("SET TimeZone TO 'Asia/Kolkata'")
            let instant = Date(timeIntervalSince1970: 1_709_251_199.5)  // 2024-02-29 23:59:59.5 UTC
            let row = try #require(
                try await db.query(
                    """
                    SELECT $1::timestamptz AS echoed, $1::timestamptz::text AS text,
                           '2024-02-29 15:59:59.5-08'::timestamptz AS literal,
                           '2024-02-29 23:59:59.5'::timestamp AS naive, '2024-02-29'::date AS day,
                           'infinity'::timestamptz AS future, '0044-03-15 12:00:00+00 BC'::timestamptz AS ides
                    """, [instant]
                ).first)
            #expect(try row.decode(String.self, column: "text").hasSuffix("+05:30"))
            #expect(try row.decode(Date.self, column: "echoed") == instant)
            #expect(try row.decode(Date.self, column: "literal") == instant)
            #expect(try row.decode(Date.self, column: "naive") == instant)
            #expect(try row.decode(Date.self, column: "day") == Date(timeIntervalSince1970: 1_709_164_800))
            #expect(try row.decode(Date.self, column: "future") == .distantFuture)
            let ides = try row.decode(Date.self, column: "ides")
            let echoed = try #require(
                try await db.query("SELECT $1::timestamptz = '0044-03-15 12:00:00+00 BC'", [ides]).first)
            #expect(try echoed.decode(Bool.self, at: 0))
        }
    }

    @Test func affectedRowCountsAreReported() async throws {
        try await TestDatabase.withSchema { schema in
            let db = try await schema.connect()
            let created = try await db.execute("CREATE TABLE stock (sku text PRIMARY KEY, on_hand bigint NOT NULL)")
            #expect(created.affectedRows == nil)
            let inserted = try await db.query(
                "INSERT INTO stock SELECT * FROM unnest($1::text[], $2::bigint[])",
                [["a", "b", "c"], [1, 2, 3] as [Int64]])
            #expect(inserted.affectedRows == 3)
            #expect(inserted.commandTag == "INSERT 0 3")
            #expect(
                try await db.query("UPDATE stock SET on_hand = on_hand + 1 WHERE on_hand >= $1", [2]).affectedRows == 2)
            let selected = try await db.query("SELECT sku, on_hand FROM stock ORDER BY sku")
            #expect(selected.affectedRows == 3)
            #expect(selected.columnNames == ["sku", "on_hand"])
            #expect(try selected.map { try $0.decode(Int64.self, column: "on_hand") } == [1, 3, 4])
            #expect(try await db.query("DELETE FROM stock WHERE sku = $1", ["zzz"]).affectedRows == 0)
        }
    }

    @Test func executeRunsMultiStatementScripts() async throws {
        try await TestDatabase.withSchema { schema in
            let db = try await schema.connect()
            let last = try await db.execute(
                """
                CREATE TABLE t (v int);
                INSERT INTO t VALUES (1), (2);
                SELECT sum(v) FROM t;
                """)
            #expect(try last.scalar(Int.self) == 3)
        }
    }

    @Test func connectionFailureNamesHostAndDatabaseButNotPassword() async throws {
        for conninfo in [
            "host=127.0.0.1 port=1 user=ghost password=sekrit-pw dbname=nowhere",
            "postgresql://ghost:sekrit-pw@127.0.0.1:1/nowhere",
        ] {
            let error = try #require(
                await #expect(throws: PostgresError.self) {
                    _ = try await PostgresConnection.connect(conninfo, connectTimeout: .seconds(2))
                })
            #expect(error.code == .connectionFailed)
            #expect(error.description.contains("ghost@127.0.0.1:1/nowhere"), "\(error)")
            #expect(!error.description.contains("sekrit"))
        }
        let malformed = try #require(
            await #expect(throws: PostgresError.self) {
                _ = try await PostgresConnection.connect("host=127.0.0.1 password sekrit-pw")
            })
        #expect(malformed.code == .connectionFailed)
        #expect(!malformed.description.contains("sekrit"))
    }

    @Test func lostConnectionIsDetectedAndResetReconnects() async throws {
        try await TestDatabase.withSchema { schema in
            let victim = try await schema.connect()
            let admin = try await schema.connect()
            let pid = try await victim.query("SELECT pg_backend_pid()").scalar(Int32.self)
            #expect(try await admin.query("SELECT pg_terminate_backend($1, 5000)", [pid]).scalar(Bool.self))

            let lost = try #require(
                await #expect(throws: PostgresError.self) {
                    try await victim.query("SELECT 1")
                })
            #expect(lost.isConnectionLost)
            #expect(victim.unreadiness(stallAfter: .seconds(5)) == "database connection lost")
            #expect(!(await victim.isConnected))
            let stillLost = try #require(
                await #expect(throws: PostgresError.self) {
                    try await victim.query("SELECT 1")
                })
            #expect(stillLost.code == .connectionLost)

            try await victim.reset()
            #expect(await victim.isConnected)
            #expect(victim.unreadiness(stallAfter: .seconds(5)) == nil)
            #expect(try await victim.query("SELECT pg_backend_pid()").scalar(Int32.self) != pid)
        }
    }

    /// A readiness probe asks while a statement hangs (a network cut holds one until tcp_user_timeout): the answer
    /// comes at once, and names the stall once the statement has waited longer than allowed.
    @Test func unreadinessAnswersAtOnceWhileAStatementHangs() async throws {
        try await TestDatabase.withSchema { schema in
            let db = try await schema.connect()
            #expect(db.unreadiness(stallAfter: .milliseconds(500)) == nil)
            let started = ContinuousClock.now
            let sleeper = Task { try await db.query("SELECT pg_sleep(3)") }
            // Running (the barrier: the connection has a job under way), but not yet for as long as the limit allows.
            #expect(try await eventually { db.unreadiness(stallAfter: .zero) != nil })
            #expect(db.unreadiness(stallAfter: .seconds(30)) == nil)
            // Past the limit: named at once, while the statement still holds the connection. The sleep is the
            // scenario: the statement must have waited longer than the 500 ms allowed.
            try await Task.sleep(for: .milliseconds(700))
            let asked = ContinuousClock.now
            let reason = db.unreadiness(stallAfter: .milliseconds(500))
            #expect(ContinuousClock.now - asked < .milliseconds(200))
            if ContinuousClock.now - started < .seconds(3) {
                #expect(reason?.hasPrefix("database not answering: a statement has waited") == true, "\(reason ?? "nil")")
            }
            _ = try await sleeper.value
            // The statement's answer arrives a moment before its job is done with the connection.
            var fit = false
            for _ in 0..<100 where !fit {
                fit = db.unreadiness(stallAfter: .milliseconds(500)) == nil
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(fit)
            await db.close()
        }
    }

    @Test func closedConnectionRefusesWork() async throws {
        let db = try await PostgresConnection.connect(TestDatabase.conninfo)
        await db.close()
        let error = try #require(await #expect(throws: PostgresError.self) { try await db.query("SELECT 1") })
        #expect(error.code == .connectionClosed)
    }

    @Test func concurrentQueriesOnOneConnectionDoNotLandInsideAnotherTasksTransaction() async throws {
        try await TestDatabase.withSchema { schema in
            let db = try await schema.connect()
            try await db.execute("CREATE TABLE t (v text)")
            let (inserted, signal) = AsyncStream.makeStream(of: Void.self)
            let outsideDone = Shared(false)
            async let rolledBack: Void = {
                do {
                    try await db.transaction { tx in
                        try await tx.query("INSERT INTO t VALUES ('inside')")
                        signal.yield()
                        // The barrier: the other task's statement has reached the connection, waiting at its gate
                        // (or, were there no gate, it has run, inside this transaction). Either way it had its chance.
                        #expect(try await eventually { db.gate.waiting > 0 || outsideDone.value })
                        throw PlannedFailure()
                    }
                } catch is PlannedFailure {}
            }()
            for await _ in inserted { break }
            // Waits for the transaction to end, then autocommits; without the gate it would be rolled back with it.
            try await db.query("INSERT INTO t VALUES ('outside')")
            outsideDone.update { $0 = true }
            try await rolledBack
            let values = try await db.query("SELECT v FROM t").map { try $0.decode(String.self, at: 0) }
            #expect(values == ["outside"])

            let sums = try await withThrowingTaskGroup(of: Int.self) { group in
                for n in 1...20 { group.addTask { try await db.query("SELECT $1::int * 2", [n]).scalar(Int.self) } }
                return try await group.reduce(0, +)
            }
            #expect(sums == 420)
        }
    }
}
