import Foundation
import Postgres
import StockCore

extension Stack {
    /// One SKU's stock truth as the calculator holds it (its available quantity by StockCore's own formula).
    struct Truth: Equatable {
        var onHand: Int
        var reserved: Int
        var available: Int

        init(onHand: Int, reserved: Int, available: Int) {
            self.onHand = onHand
            self.reserved = reserved
            self.available = available
        }

        /// From a `skus` row: `on_hand, reserved, safety_stock` starting at column `at`.
        init(row: PostgresRow, at column: Int) throws {
            let stock = SkuStock(
                onHand: try row.decode(Int64.self, at: column), reserved: try row.decode(Int64.self, at: column + 1),
                safetyStock: try row.decode(Int64.self, at: column + 2))
            self.init(onHand: Int(stock.onHand), reserved: Int(stock.reserved), available: Int(stock.available))
        }
    }

    /// The truth of every SKU whose name starts with `prefix`, in this run's database.
    func truths(prefix: String) async throws -> [String: Truth] {
        let db = try await PostgresConnection.connect(conninfo)
        defer { Task { await db.close() } }
        let rows = try await db.query(
            "SELECT sku, on_hand, reserved, safety_stock FROM skus WHERE starts_with(sku, $1)", [prefix])
        var out: [String: Truth] = [:]
        for row in rows { out[try row.decode(String.self, at: 0)] = try Truth(row: row, at: 1) }
        return out
    }

    /// The truth of one SKU in this run's database (all zero while the calculator has not met it).
    func truth(sku: String) async throws -> Truth {
        let db = try await PostgresConnection.connect(conninfo)
        defer { Task { await db.close() } }
        let rows = try await db.query("SELECT on_hand, reserved, safety_stock FROM skus WHERE sku = $1", [sku])
        guard let row = rows.first else { return Truth(onHand: 0, reserved: 0, available: 0) }
        return try Truth(row: row, at: 0)
    }

    /// Messages the calculator applied exactly once (its dedupe table), in this run's database.
    func processedMessageCount() async throws -> Int {
        let db = try await PostgresConnection.connect(conninfo)
        defer { Task { await db.close() } }
        let rows = try await db.query("SELECT count(*)::bigint FROM processed_messages", [])
        return try rows.first?.decode(Int.self, at: 0) ?? 0
    }

    /// A service's `/metrics` page (Prometheus text), or "" when it does not answer.
    func metrics(_ opsURL: String) async -> String {
        guard let (status, body) = try? await HTTP.get(opsURL + "/metrics"), status == 200 else { return "" }
        return body
    }
}
