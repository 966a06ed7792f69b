import Postgres
import StockwireTestSupport
import Testing

@Suite struct PostgresArrayLiteralTests {
    static let awkward: [String?] = [
        "plain", "with,comma", "with \"quotes\"", "back\\slash", nil, "", "NULL", "null", " spaced ", "{brace}",
        "ünïcode 🚀", "new\nline", "trailing\\",
    ]

    @Test func encodesQuotingEscapesAndNull() {
        #expect(PostgresArrayLiteral.encode([]) == "{}")
        #expect(PostgresArrayLiteral.encode(["a", nil, "b\"c", "d\\e", "NULL"]) == #"{"a",NULL,"b\"c","d\\e","NULL"}"#)
        #expect(PostgresArrayLiteral.encode([1, -2] as [Int64]) == #"{"1","-2"}"#)
    }

    @Test func decodesServerOutput() {
        #expect(PostgresArrayLiteral.decode("{}")! == [])
        #expect(
            PostgresArrayLiteral.decode(#"{a,NULL,"b c","NULL","x\"y",z\,w}"#)! == [
                "a", nil, "b c", "NULL", "x\"y", "z,w",
            ])
        #expect(PostgresArrayLiteral.decode("[0:1]={1,2}")! == ["1", "2"])
        #expect(PostgresArrayLiteral.decode("{{1,2},{3,4}}") == nil)
        #expect(PostgresArrayLiteral.decode("{\"unterminated}") == nil)
        #expect(PostgresArrayLiteral.decode("not an array") == nil)
    }

    @Test func encodeThenDecodeIsIdentity() {
        #expect(PostgresArrayLiteral.decode(PostgresArrayLiteral.encode(PostgresArrayLiteralTests.awkward))! == Self.awkward)
    }
}

/// Array literals through the server.
@Suite struct PostgresArrayLiteralIntegrationTests {
    @Test func textArrayRoundTripsThroughUnnest() async throws {
        try await TestDatabase.withSchema { schema in
            let db = try await schema.connect()
            let rows = try await db.query(
                "SELECT value FROM unnest($1::text[]) WITH ORDINALITY AS u(value, position) ORDER BY position",
                [PostgresArrayLiteralTests.awkward])
            #expect(try rows.map { try $0.decode(String?.self, at: 0) } == PostgresArrayLiteralTests.awkward)
            // And back out as an array column.
            let echoed = try await db.query("SELECT $1::text[]", [PostgresArrayLiteralTests.awkward]).scalar([String?].self)
            #expect(echoed == PostgresArrayLiteralTests.awkward)
        }
    }

    @Test func bigintArrayRoundTripsThroughUnnest() async throws {
        try await TestDatabase.withSchema { schema in
            let db = try await schema.connect()
            let values: [Int64?] = [Int64.max, Int64.min, 0, nil, 9_007_199_254_740_993]
            let rows = try await db.query(
                "SELECT value FROM unnest($1::bigint[]) WITH ORDINALITY AS u(value, position) ORDER BY position",
                [values])
            #expect(try rows.map { try $0.decode(Int64?.self, at: 0) } == values)
            #expect(try await db.query("SELECT $1::bigint[]", [values]).scalar([Int64?].self) == values)
            #expect(try await db.query("SELECT cardinality($1::bigint[])", [[] as [Int64]]).scalar(Int.self) == 0)
            let nonOptional = try #require(
                await #expect(throws: PostgresError.self) {
                    try await db.query("SELECT $1::bigint[]", [values]).scalar([Int64].self)
                })
            #expect(nonOptional.code == .decodingFailed)
        }
    }
}
