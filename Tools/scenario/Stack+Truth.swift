import Foundation
import Postgres

extension Stack {
    /// One SKU's stock truth as the calculator holds it.
    struct Truth: Equatable {
        var onHand: Int
        var reserved: Int
        var available: Int
    }

    /// The truth of every SKU whose name starts with `prefix`, in this run's database.
    func truths(prefix: String) async throws -> [String: Truth] {
        let db = try await PostgresConnection.connect(conninfo)
        defer { Task { await db.close() } }
        let rows = try await db.query(
            "SELECT sku, on_hand, reserved, safety_stock FROM skus WHERE starts_with(sku, $1)", [prefix])
        var out: [String: Truth] = [:]
        for row in rows {
            let onHand = try row.decode(Int.self, at: 1)
            let reserved = try row.decode(Int.self, at: 2)
            let safety = try row.decode(Int.self, at: 3)
            out[try row.decode(String.self, at: 0)] = Truth(
                onHand: onHand, reserved: reserved, available: Swift.max(0, onHand - reserved - safety))
        }
        return out
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
