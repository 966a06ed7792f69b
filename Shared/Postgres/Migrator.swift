import Logging

/// Applies versioned ``Migration``s once each, in version order, safely from several processes at once.
///
/// Applied versions are recorded in a table (`schema_migrations(version, name, applied_at)` by default, created in
/// the first schema on the search path). A session-level `pg_advisory_lock` keyed on that table serialises
/// concurrent migrators; each migration runs in its own transaction together with its bookkeeping row.
public struct Migrator: Sendable {
    /// The bookkeeping table, optionally schema-qualified (`schema.table`); plain lower-case identifiers only.
    public var tableName: String
    /// Receives one line per applied migration.
    public var logger: Logger

    /// First half of the advisory-lock key ("SWMG"); the second half hashes the table's qualified name.
    static let lockNamespace: Int32 = 0x5357_4D47

    /// Creates a migrator.
    public init(tableName: String = "schema_migrations", logger: Logger = Logger(label: "stockwire.postgres.migrator"))
    {
        self.tableName = tableName
        self.logger = logger
    }

    /// Applies pending migrations with a default ``Migrator``; returns those applied by this call.
    @discardableResult
    public static func migrate(
        _ connection: PostgresConnection, _ migrations: [Migration],
        logger: Logger = Logger(label: "stockwire.postgres.migrator")
    ) async throws -> [Migration] {
        try await Migrator(logger: logger).migrate(connection, migrations)
    }

    /// Applies every migration whose version the database has not recorded, in ascending version order.
    ///
    /// Idempotent: when nothing is pending it only takes and releases the lock.
    ///
    /// - Returns: The migrations applied by this call (empty when another process already applied them).
    /// - Throws: ``PostgresError/Code/unknownMigrationVersion`` when the database has a version not in
    ///   `migrations` (the database is newer than this code); ``PostgresError/Code/migrationFailed`` when a
    ///   migration's SQL fails (that migration is rolled back, earlier ones stay);
    ///   ``PostgresError/Code/invalidArgument`` for duplicate or non-positive versions or a bad table name.
    @discardableResult
    public func migrate(_ connection: PostgresConnection, _ migrations: [Migration]) async throws -> [Migration] {
        let ordered = try validated(migrations)
        return try await connection.withExclusiveAccess { connection in
            let lockKey =
                "hashtext(CASE WHEN strpos($1, '.') > 0 THEN $1 ELSE coalesce(current_schema(), '') || '.' || $1 END)"
            try await connection.query("SELECT pg_advisory_lock(\(Self.lockNamespace), \(lockKey))", [tableName])
            do {
                let applied = try await applyPending(ordered, on: connection)
                try await connection.query("SELECT pg_advisory_unlock(\(Self.lockNamespace), \(lockKey))", [tableName])
                return applied
            } catch {
                // A lost connection releases the lock by itself; otherwise release it before reporting.
                _ = try? await connection.query(
                    "SELECT pg_advisory_unlock(\(Self.lockNamespace), \(lockKey))", [tableName])
                throw error
            }
        }
    }

    private func applyPending(_ migrations: [Migration], on connection: PostgresConnection) async throws -> [Migration]
    {
        try await connection.execute(
            """
            CREATE TABLE IF NOT EXISTS \(tableName) (
                version bigint PRIMARY KEY,
                name text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """)
        let recorded = try await connection.query("SELECT version, name FROM \(tableName) ORDER BY version")
        var appliedNames: [Int: String] = [:]
        for row in recorded { appliedNames[try row.decode(Int.self, at: 0)] = try row.decode(String.self, at: 1) }

        let known = Dictionary(uniqueKeysWithValues: migrations.map { ($0.version, $0) })
        let unknown = appliedNames.keys.filter { known[$0] == nil }.sorted()
        if !unknown.isEmpty {
            throw PostgresError(
                code: .unknownMigrationVersion,
                message:
                    "\(connection.target): \(tableName) records version(s) \(unknown.map(String.init).joined(separator: ", ")) "
                    + "that this build does not know (newest known: \(migrations.last?.version ?? 0)); "
                    + "the database was migrated by a newer build — deploy that build or restore the database")
        }
        for (version, name) in appliedNames where known[version]?.name != name {
            logger.warning(
                "applied migration was renamed",
                metadata: ["version": "\(version)", "recorded": "\(name)", "code": "\(known[version]?.name ?? "")"])
        }

        var applied: [Migration] = []
        for migration in migrations where appliedNames[migration.version] == nil {
            do {
                try await connection.transaction { tx in
                    try await tx.execute(migration.sql)
                    try await tx.query(
                        "INSERT INTO \(tableName) (version, name) VALUES ($1, $2)", [migration.version, migration.name])
                }
            } catch let error as PostgresError where error.code == .queryFailed || error.code == .transactionAborted {
                var wrapped = error
                wrapped.code = .migrationFailed
                wrapped.message =
                    "migration \(migration.version) (\(migration.name)) failed and was rolled back: \(error.message)"
                throw wrapped
            }
            logger.info(
                "applied migration",
                metadata: [
                    "version": "\(migration.version)", "name": "\(migration.name)", "target": "\(connection.target)",
                ])
            applied.append(migration)
        }
        return applied
    }

    private func validated(_ migrations: [Migration]) throws -> [Migration] {
        let identifier = #/^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/#
        guard tableName.wholeMatch(of: identifier) != nil else {
            throw PostgresError(
                code: .invalidArgument, message: "migration table name \"\(tableName)\" must be a lower-case identifier"
            )
        }
        var seen: Set<Int> = []
        for migration in migrations {
            guard migration.version > 0 else {
                throw PostgresError(
                    code: .invalidArgument,
                    message:
                        "migration \"\(migration.name)\" has version \(migration.version); versions must be positive")
            }
            guard seen.insert(migration.version).inserted else {
                throw PostgresError(
                    code: .invalidArgument, message: "two migrations share version \(migration.version)")
            }
        }
        return migrations.sorted { $0.version < $1.version }
    }
}
