import Contracts
import Foundation
import Postgres
import StockCore

/// The store's reads for operators: every SKU page by page (publish-all, resync) and one SKU's lineage (explain).
extension StockStore {
    /// The guard shares and sold totals of those of `skus` under the zero-oversell guard.
    func guardShares(of skus: [String]) async throws -> [String: (shares: [ShopDomain: Int64], sold: [ShopDomain: Int64])] {
        var out: [String: (shares: [ShopDomain: Int64], sold: [ShopDomain: Int64])] = [:]
        for row in try await db.query(
            "SELECT sku, shop, share, sold_total FROM guard_shares WHERE sku = ANY($1::text[])", [skus])
        {
            let sku = try row.decode(String.self, at: 0)
            let shop = try row.shopDomain(at: 1, of: "guard_shares")
            out[sku, default: ([:], [:])].shares[shop] = try row.decode(Int64.self, at: 2)
            out[sku, default: ([:], [:])].sold[shop] = try row.decode(Int64.self, at: 3)
        }
        return out
    }

    /// The truth of those of `skus` the store knows, sorted by SKU.
    func skus(named skus: [String]) async throws -> [(sku: String, stock: SkuStock)] {
        try await db.query(
            "SELECT sku, on_hand, reserved, safety_stock, version FROM skus WHERE sku = ANY($1::text[]) ORDER BY sku",
            [skus]
        ).map(Self.skuStock)
    }

    /// Up to `limit` SKUs after `after` (sorted by SKU) with their truth.
    func skus(after: String, limit: Int) async throws -> [(sku: String, stock: SkuStock)] {
        try await db.query(
            "SELECT sku, on_hand, reserved, safety_stock, version FROM skus WHERE sku > $1 ORDER BY sku LIMIT $2",
            [after, limit]
        ).map(Self.skuStock)
    }

    /// A row `sku, on_hand, reserved, safety_stock, version` of `skus`.
    private static func skuStock(_ row: PostgresRow) throws -> (sku: String, stock: SkuStock) {
        (
            try row.decode(String.self, at: 0),
            SkuStock(
                onHand: try row.decode(Int64.self, at: 1), reserved: try row.decode(Int64.self, at: 2),
                safetyStock: try row.decode(Int64.self, at: 3), version: try row.decode(Int64.self, at: 4))
        )
    }

    /// The truth of `sku` and its last `limit` versions with their causes; nil for an unknown SKU.
    func explain(sku: String, limit: Int) async throws -> SkuExplanation? {
        guard let (stock, _, levels) = try await self.stock(sku: sku) else { return nil }
        let open = try await db.query(
            "SELECT shop, order_id, line_id, reserved FROM order_lines WHERE sku = $1 AND reserved <> 0 ORDER BY 1, 2, 3",
            [sku])
        var openLines: [String: Int64] = [:]
        for row in open {
            let key =
                "\(try row.decode(String.self, at: 0))/\(try row.decode(Int64.self, at: 1))/\(try row.decode(Int64.self, at: 2))"
            openLines[key] = try row.decode(Int64.self, at: 3)
        }
        let rows = try await db.query(
            """
            SELECT version, available, on_hand, reserved, causes, origins, first_received_at_ms, computed_at_ms
            FROM sku_history WHERE sku = $1 ORDER BY version DESC LIMIT $2
            """, [sku, limit])
        var history: [SkuExplanation.Version] = []
        var allCauses = Set<String>()
        for row in rows {
            let causes = try row.decode(String.self, at: 4).split(separator: " ").map(String.init)
            allCauses.formUnion(causes)
            history.append(
                SkuExplanation.Version(
                    version: try row.decode(Int64.self, at: 0), available: try row.decode(Int64.self, at: 1),
                    onHand: try row.decode(Int64.self, at: 2), reserved: try row.decode(Int64.self, at: 3),
                    causes: causes.map { SkuExplanation.Cause(messageId: $0, shop: SkuExplanation.shop(ofMessageId: $0)) },
                    shopQuantities: SkuExplanation.decodeOrigins(try row.decode(String.self, at: 5)),
                    firstReceivedAtMillis: try row.decode(Int64?.self, at: 6),
                    computedAtMillis: try row.decode(Int64.self, at: 7)))
        }
        if !allCauses.isEmpty {
            var received: [String: Int64] = [:]
            for row in try await db.query(
                """
                SELECT message_id, (extract(epoch FROM received_at) * 1000)::bigint FROM processed_messages
                WHERE message_id = ANY($1::text[])
                """, [Array(allCauses)])
            {
                received[try row.decode(String.self, at: 0)] = try row.decode(Int64.self, at: 1)
            }
            for i in history.indices {
                for j in history[i].causes.indices {
                    history[i].causes[j].receivedAtMillis = received[history[i].causes[j].messageId]
                }
            }
        }
        var shops: [SkuExplanation.ShopWrite] = []
        for row in try await db.query(
            """
            SELECT DISTINCT ON (shop) shop, version, value, written_at_ms, first_received_at_ms FROM shop_writes
            WHERE sku = $1 ORDER BY shop, version DESC, written_at_ms DESC
            """, [sku])
        {
            shops.append(
                SkuExplanation.ShopWrite(
                    shop: try row.shopDomain(at: 0, of: "shop_writes"), version: try row.decode(Int64.self, at: 1),
                    value: try row.decode(Int64.self, at: 2), writtenAtMillis: try row.decode(Int64.self, at: 3),
                    firstReceivedAtMillis: try row.decode(Int64?.self, at: 4)))
        }
        return SkuExplanation(
            sku: sku, available: stock.available, onHand: stock.onHand, reserved: stock.reserved,
            safetyStock: stock.safetyStock, version: stock.version,
            levels: levels.map { SkuExplanation.Level(warehouse: $0.0, onHand: $0.1, forSale: $0.2) },
            openLines: openLines, history: history, shops: shops,
            guardThreshold: stock.guardThreshold ?? guardDefaults.threshold, shares: try await guardShares(sku: sku))
    }
}
