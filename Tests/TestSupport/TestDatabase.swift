import Foundation
import Logging
import Postgres
import Synchronization

/// The PostgreSQL the tests use: `STOCKWIRE_TEST_POSTGRES`, else the one `deploy/local` starts on loopback.
public enum TestDatabase {
    /// Its conninfo. Only integration tests may ask (``IntegrationTests``).
    public static var conninfo: String {
        IntegrationTests.require("PostgreSQL")
        return ProcessInfo.processInfo.environment["STOCKWIRE_TEST_POSTGRES"]
            ?? "host=127.0.0.1 port=5432 user=stockwire password=stockwire dbname=stockwire"
    }

    /// A name no other test (or run) uses: `<prefix>_<12 hex digits>`, a valid SQL identifier for a lowercase prefix.
    public static func unique(_ prefix: String) -> String {
        "\(prefix)_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased())"
    }

    /// Runs `body` with a fresh, uniquely named schema that is dropped afterwards, so tests can run in parallel.
    public static func withSchema<T>(_ body: (TestSchema) async throws -> T) async throws -> T {
        let admin = try await PostgresConnection.connect(conninfo)
        let schema = TestSchema(
            name: "pgtest_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16))
        try await admin.execute("CREATE SCHEMA \(schema.name)")
        do {
            let result = try await body(schema)
            await schema.closeAll()
            try await admin.execute("DROP SCHEMA \(schema.name) CASCADE")
            await admin.close()
            return result
        } catch {
            await schema.closeAll()
            _ = try? await admin.execute("DROP SCHEMA \(schema.name) CASCADE")
            await admin.close()
            throw error
        }
    }

    /// Runs `body` with the conninfo of a new database (named `<prefix>_…`) with `migrations` applied, dropped
    /// afterwards (`WITH (FORCE)`: connections `body` left open do not keep it).
    public static func withDatabase<T>(
        _ prefix: String, migrations: [Migration], logger: Logger, _ body: (String) async throws -> T
    ) async throws -> T {
        let admin = try await PostgresConnection.connect(conninfo)
        let name = unique(prefix)
        try await admin.execute("CREATE DATABASE \(name)")
        // libpq takes the last of repeated keywords.
        let database = conninfo + " dbname=\(name)"
        do {
            let db = try await PostgresConnection.connect(database)
            try await Migrator.migrate(db, migrations, logger: logger)
            await db.close()
            let result = try await body(database)
            try await admin.execute("DROP DATABASE \(name) WITH (FORCE)")
            await admin.close()
            return result
        } catch {
            _ = try? await admin.execute("DROP DATABASE \(name) WITH (FORCE)")
            await admin.close()
            throw error
        }
    }
}

/// A throwaway schema; its connections have it as their `search_path`.
public final class TestSchema: Sendable {
    public let name: String
    private let connections = Mutex<[PostgresConnection]>([])

    init(name: some StringProtocol) { self.name = String(name) }

    /// Opens a connection whose unqualified names resolve in this schema.
    public func connect() async throws -> PostgresConnection {
        let connection = try await PostgresConnection.connect(TestDatabase.conninfo, connectTimeout: .seconds(5))
        try await connection.execute("SET search_path TO \(name)")
        connections.withLock { $0.append(connection) }
        return connection
    }

    func closeAll() async {
        for connection in connections.withLock({ $0 }) { await connection.close() }
    }
}
