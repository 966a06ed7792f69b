import Postgres
import StockwireTestSupport
import Testing

@Suite struct MigratorIntegrationTests {
    static let migrations = [
        Migration(
            version: 3, name: "seed",
            sql: "INSERT INTO stock (sku, on_hand) VALUES ('a', 1); INSERT INTO log VALUES (3)"),
        Migration(
            version: 1, name: "create_stock", sql: "CREATE TABLE stock (sku text PRIMARY KEY); CREATE TABLE log (v int)"
        ),
        Migration(
            version: 2, name: "add_on_hand",
            sql:
                "SELECT pg_sleep(0.05); ALTER TABLE stock ADD COLUMN on_hand bigint NOT NULL DEFAULT 0; INSERT INTO log VALUES (2)"
        ),
    ]

    @Test func appliesPendingMigrationsInOrderAndIsIdempotent() async throws {
        try await TestDatabase.withSchema { schema in
            let db = try await schema.connect()
            let first = try await Migrator.migrate(db, Self.migrations)
            #expect(first.map(\.version) == [1, 2, 3])
            let second = try await Migrator.migrate(db, Self.migrations)
            #expect(second.isEmpty)
            let recorded = try await db.query("SELECT version, name FROM schema_migrations ORDER BY version")
            #expect(try recorded.map { try $0.decode(Int.self, at: 0) } == [1, 2, 3])
            #expect(try recorded.map { try $0.decode(String.self, at: 1) } == ["create_stock", "add_on_hand", "seed"])
            #expect(try await db.query("SELECT on_hand FROM stock WHERE sku = 'a'").scalar(Int64.self) == 1)

            let fourth = Migration(version: 4, name: "index", sql: "CREATE INDEX stock_on_hand ON stock (on_hand)")
            #expect(try await Migrator.migrate(db, Self.migrations + [fourth]).map(\.version) == [4])
        }
    }

    @Test func refusesDatabaseWithUnknownVersion() async throws {
        try await TestDatabase.withSchema { schema in
            let db = try await schema.connect()
            try await Migrator.migrate(db, Self.migrations)
            let error = try #require(
                await #expect(throws: PostgresError.self) {
                    try await Migrator.migrate(db, Array(Self.migrations.filter { $0.version < 3 }))
                })
            #expect(error.code == .unknownMigrationVersion)
            #expect(error.message.contains("3"))
            // The advisory lock was released: migrating with the full list still works.
            let other = try await schema.connect()
            #expect(try await Migrator.migrate(other, Self.migrations).isEmpty)
        }
    }

    @Test func concurrentMigratorsApplyEachMigrationOnce() async throws {
        try await TestDatabase.withSchema { schema in
            let connections = [try await schema.connect(), try await schema.connect(), try await schema.connect()]
            let applied = try await withThrowingTaskGroup(of: [Int].self) { group in
                for db in connections {
                    group.addTask { try await Migrator.migrate(db, Self.migrations).map(\.version) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(applied.flatMap { $0 }.sorted() == [1, 2, 3])
            #expect(try await connections[0].query("SELECT count(*) FROM log").scalar(Int.self) == 2)
            #expect(try await connections[0].query("SELECT count(*) FROM schema_migrations").scalar(Int.self) == 3)
        }
    }

    @Test func failingMigrationIsRolledBackAndReported() async throws {
        try await TestDatabase.withSchema { schema in
            let db = try await schema.connect()
            let broken =
                Self.migrations.filter { $0.version == 1 } + [
                    Migration(
                        version: 2, name: "broken", sql: "INSERT INTO log VALUES (2); INSERT INTO nowhere VALUES (1)")
                ]
            let error = try #require(
                await #expect(throws: PostgresError.self) { try await Migrator.migrate(db, broken) })
            #expect(error.code == .migrationFailed)
            #expect(error.sqlState == "42P01")
            #expect(error.message.contains("migration 2 (broken)"))
            #expect(
                try await db.query("SELECT version FROM schema_migrations").map { try $0.decode(Int.self, at: 0) } == [
                    1
                ])
            #expect(try await db.query("SELECT count(*) FROM log").scalar(Int.self) == 0)
        }
    }

    @Test func invalidMigrationListsAreRejected() async throws {
        try await TestDatabase.withSchema { schema in
            let db = try await schema.connect()
            let duplicate = [
                Migration(version: 1, name: "a", sql: "SELECT 1"), Migration(version: 1, name: "b", sql: "SELECT 1"),
            ]
            let error = try #require(
                await #expect(throws: PostgresError.self) { try await Migrator.migrate(db, duplicate) })
            #expect(error.code == .invalidArgument)
            let badTable = try #require(
                await #expect(throws: PostgresError.self) {
                    try await Migrator(tableName: "x; DROP TABLE y").migrate(db, [])
                })
            #expect(badTable.code == .invalidArgument)
        }
    }
}
