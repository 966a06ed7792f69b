import Foundation
import Postgres

/// A consistent export of the stock truth, and its restore into an empty database (`calculator snapshot`,
/// `calculator rebuild`).
///
/// The export is one JSON document: `format`, `taken_at` (the database's clock), `schema_version` (the last
/// migration applied) and `tables`, each table's rows as PostgreSQL's `json_agg` renders them, read in one
/// REPEATABLE READ transaction so that every table shows the same moment. It includes the dedupe ids
/// (`processed_messages`): after a restore, replaying the event log from before `taken_at` applies exactly the
/// events the snapshot does not contain, and nothing twice. The outbox is not exported (what it held was
/// published, or is re-published by `calculator publish-all` after a rebuild).
enum Snapshot {
    static let format = "stockwire-snapshot-1"

    /// The tables exported, in an order that a restore can insert them in.
    static let tables = [
        "warehouses", "skus", "stock_levels", "orders", "order_lines", "refunds", "variants", "processed_messages",
        "sku_history", "shop_writes",
    ]

    /// What a snapshot holds, for the report.
    struct Summary: Sendable, Equatable {
        var takenAt: String
        var schemaVersion: Int64
        var rows: [String: Int64]

        var text: String {
            "snapshot taken at \(takenAt) (schema version \(schemaVersion)): "
                + Snapshot.tables.map { "\($0) \(rows[$0] ?? 0)" }.joined(separator: ", ")
        }
    }

    /// Reads the whole truth at one moment.
    static func take(_ db: PostgresConnection) async throws -> (document: [UInt8], summary: Summary) {
        try await db.transaction(isolation: .repeatableRead) { tx in
            try await tx.execute("SET TRANSACTION READ ONLY")
            guard try await tx.query("SELECT to_regclass('schema_migrations') IS NOT NULL").scalar(Bool.self) else {
                throw SnapshotError(
                    "the database holds no Stockwire truth (no schema_migrations table): is --postgres the calculator's database?")
            }
            let takenAt = try await tx.query(
                "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
            ).scalar(String.self)
            let version = try await tx.query("SELECT coalesce(max(version), 0)::bigint FROM schema_migrations").scalar(Int64.self)
            var document = Array(#"{"format":"\#(format)","taken_at":"\#(takenAt)","schema_version":\#(version),"tables":{"#.utf8)
            var rows: [String: Int64] = [:]
            for (index, table) in tables.enumerated() {
                // Rows in a fixed order (whole-row comparison), so that two snapshots of the same truth are equal.
                let result = try await tx.query(
                    "SELECT coalesce(json_agg(t ORDER BY t), '[]'::json)::text, count(*) FROM \(table) t")
                guard let row = result.rows.first else { continue }
                let json = try row.decode(String.self, at: 0)
                let count = try row.decode(Int64.self, at: 1)
                if index > 0 { document.append(UInt8(ascii: ",")) }
                document += Array("\"\(table)\":".utf8) + Array(json.utf8)
                rows[table] = count
            }
            document += Array("}}\n".utf8)
            return (document, Summary(takenAt: takenAt, schemaVersion: version, rows: rows))
        }
    }

    /// Loads a snapshot into a database migrated to the same schema version that holds no truth yet. One
    /// transaction: a failed restore leaves the database empty.
    static func restore(_ document: [UInt8], into db: PostgresConnection) async throws -> Summary {
        let text = String(decoding: document, as: UTF8.self)
        return try await db.transaction { tx in
            let head = try await tx.query(
                "SELECT $1::json->>'format', $1::json->>'taken_at', ($1::json->>'schema_version')::bigint", [text])
            guard let first = head.rows.first, try first.decode(String?.self, at: 0) == format,
                let takenAt = try first.decode(String?.self, at: 1), let version = try first.decode(Int64?.self, at: 2)
            else {
                throw SnapshotError("not a Stockwire snapshot (expected \"format\": \"\(format)\")")
            }
            let current = try await tx.query("SELECT coalesce(max(version), 0)::bigint FROM schema_migrations").scalar(Int64.self)
            guard version == current else {
                throw SnapshotError(
                    "the snapshot has schema version \(version), this database \(current): restore it with the calculator "
                        + "version that took it (then upgrade), so that no column is left empty")
            }
            let held = try await tx.query(
                "SELECT (SELECT count(*) FROM skus) + (SELECT count(*) FROM orders) + (SELECT count(*) FROM processed_messages)"
            ).scalar(Int64.self)
            guard held == 0 else {
                throw SnapshotError(
                    "the database already holds a truth (\(held) SKUs, orders and applied events): rebuild into an empty one")
            }
            // The only rows an empty, migrated database may hold come from migrations (the default warehouse).
            try await tx.execute("DELETE FROM warehouses")
            var rows: [String: Int64] = [:]
            for table in tables {
                let result = try await tx.query(
                    "INSERT INTO \(table) SELECT * FROM json_populate_recordset(null::\(table), $1::json->'tables'->'\(table)')",
                    [text])
                rows[table] = Int64(result.affectedRows ?? 0)
            }
            return Summary(takenAt: takenAt, schemaVersion: version, rows: rows)
        }
    }
}

/// A snapshot that cannot be taken or restored, with the reason for the operator.
struct SnapshotError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
