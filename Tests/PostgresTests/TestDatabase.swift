import Foundation
import Postgres
import Synchronization

/// Access to the real PostgreSQL the tests run against (`STOCKWIRE_TEST_POSTGRES`).
enum TestDatabase {
    static let conninfo =
        ProcessInfo.processInfo.environment["STOCKWIRE_TEST_POSTGRES"]
        ?? "host=127.0.0.1 port=5432 user=stockwire password=stockwire dbname=stockwire"

    /// Runs `body` with a fresh, uniquely named schema that is dropped afterwards, so tests can run in parallel.
    static func withSchema<T>(_ body: (TestSchema) async throws -> T) async throws -> T {
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
}

/// A throwaway schema; its connections have it as their `search_path`.
final class TestSchema: Sendable {
    let name: String
    private let connections = Mutex<[PostgresConnection]>([])

    init(name: some StringProtocol) { self.name = String(name) }

    /// Opens a connection whose unqualified names resolve in this schema.
    func connect() async throws -> PostgresConnection {
        let connection = try await PostgresConnection.connect(TestDatabase.conninfo, connectTimeout: .seconds(5))
        try await connection.execute("SET search_path TO \(name)")
        connections.withLock { $0.append(connection) }
        return connection
    }

    func closeAll() async {
        for connection in connections.withLock({ $0 }) { await connection.close() }
    }
}

/// An error thrown on purpose by test bodies.
struct PlannedFailure: Error, Equatable {}
