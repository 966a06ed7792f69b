import Contracts
import Foundation
import Postgres

/// The zero-oversell guard's part of the store: guard rows load and save with their SKUs; exporters' confirmations
/// and time passing re-allocate in transactions of their own (``reallocate(reports:allGuarded:computedAtMillis:)``).
extension StockStore {
    /// Locks `skus` (sorted) and loads them and their guards into `state`.
    static func lockSkus(_ skus: [String], into state: inout StockState, tx: PostgresTransaction) async throws {
        for row in try await tx.query(
            """
            SELECT sku, on_hand, reserved, safety_stock, version, guard_threshold FROM skus WHERE sku = ANY($1::text[])
            ORDER BY sku FOR UPDATE
            """, [skus])
        {
            state.skus[try row.decode(String.self, at: 0)] = SkuStock(
                onHand: try row.decode(Int64.self, at: 1), reserved: try row.decode(Int64.self, at: 2),
                safetyStock: try row.decode(Int64.self, at: 3), version: try row.decode(Int64.self, at: 4),
                guardThreshold: try row.decode(Int64?.self, at: 5))
        }
        for row in try await tx.query(
            """
            SELECT sku, shop, share, granted, sold_total, raised_at_version, demand, demand_at_ms, last_activity_at_ms,
                   reason
            FROM guard_shares WHERE sku = ANY($1::text[]) ORDER BY sku, shop
            """, [skus])
        {
            let sku = try row.decode(String.self, at: 0)
            var g = state.guards[sku] ?? StockGuard()
            g.active = true
            g.shops[try row.decode(String.self, at: 1)] = StockGuard.Shop(
                share: try row.decode(Int64.self, at: 2), granted: try row.decode(Int64?.self, at: 3),
                soldTotal: try row.decode(Int64.self, at: 4), raisedAtVersion: try row.decode(Int64.self, at: 5),
                demand: try row.decode(Double.self, at: 6), demandAtMillis: try row.decode(Int64.self, at: 7),
                lastActivityAtMillis: try row.decode(Int64.self, at: 8), reason: try row.decode(String.self, at: 9))
            state.guards[sku] = g
        }
    }

    /// Saves the guards that changed: their rows are replaced; a guard that ended loses its rows.
    static func writeGuards(initial: [String: StockGuard], final: [String: StockGuard], tx: PostgresTransaction) async throws {
        let changed = Set(initial.keys).union(final.keys).filter { initial[$0] != final[$0] }.sorted()
        guard !changed.isEmpty else { return }
        try await tx.query("DELETE FROM guard_shares WHERE sku = ANY($1::text[])", [changed])
        var rows: [(String, String, StockGuard.Shop)] = []
        for sku in changed {
            guard let g = final[sku], g.active else { continue }
            for (shop, s) in g.shops.sorted(by: { $0.key < $1.key }) { rows.append((sku, shop, s)) }
        }
        guard !rows.isEmpty else { return }
        try await tx.query(
            """
            INSERT INTO guard_shares (sku, shop, share, granted, sold_total, raised_at_version, demand, demand_at_ms,
                                      last_activity_at_ms, reason)
            SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[],
                                 $7::float8[], $8::bigint[], $9::bigint[], $10::text[])
            """,
            [rows.map(\.0), rows.map(\.1), rows.map(\.2.share), rows.map(\.2.granted), rows.map(\.2.soldTotal),
             rows.map(\.2.raisedAtVersion), rows.map(\.2.demand), rows.map(\.2.demandAtMillis),
             rows.map(\.2.lastActivityAtMillis), rows.map(\.2.reason)])
    }

    /// Writes availability and catalog messages to the outbox; returns them with their ids, to publish after commit.
    static func insertOutbox(
        messages: [AvailabilityMessage], catalogs: [CatalogUpdate], computedAtMillis: Int64, routes: OutboxRoutes,
        tx: PostgresTransaction
    ) async throws -> [OutboxMessage] {
        var pending: [(exchange: String, key: String, id: String, type: String, body: String, sku: String?)] = []
        for m in messages {
            pending.append(
                (routes.availabilityExchange, m.sku, "\(m.sku)/\(m.version)", AvailabilityMessage.messageType,
                 String(decoding: try m.json(), as: UTF8.self), m.sku))
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for c in catalogs {
            let message = CatalogMessage(
                shop: c.shop, productId: c.productId, updatedAtMillis: c.updatedAtMillis,
                variants: c.variants.map {
                    .init(
                        variantId: $0.variantId, sku: $0.sku, inventoryItemId: $0.inventoryItemId, tracked: $0.tracked,
                        continueSelling: $0.continueSelling)
                })
            pending.append(
                (routes.catalogExchange, c.shop, "catalog/\(c.shop)/\(c.productId)/\(computedAtMillis)",
                 CatalogMessage.messageType, String(decoding: try encoder.encode(message), as: UTF8.self), nil))
        }
        guard !pending.isEmpty else { return [] }
        let rows = try await tx.query(
            """
            INSERT INTO outbox (exchange, routing_key, message_id, message_type, body, sku)
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
            RETURNING id
            """,
            [pending.map(\.exchange), pending.map(\.key), pending.map(\.id), pending.map(\.type),
             pending.map(\.body), pending.map(\.sku)])
        let ids = try rows.map { try $0.decode(Int64.self, at: 0) }
        return zip(ids, pending).map { id, p in
            OutboxMessage(
                id: id, exchange: p.exchange, routingKey: p.key, messageId: p.id, messageType: p.type,
                body: Array(p.body.utf8))
        }
    }

    /// Applies exporters' confirmations of guarded writes and lets every guard involved (or, with `allGuarded`,
    /// every active guard) re-allocate: units freed by a confirmed lower count go to the shops that sell, idle
    /// surplus is given back. One transaction; returns the outbox rows of the new versions, to publish.
    func reallocate(reports: [WriteReport], allGuarded: Bool, computedAtMillis: Int64) async throws -> [OutboxMessage] {
        let routes = routes
        let guardDefaults = guardDefaults
        var confirmations: [String: [(shop: String, write: WriteReport.Write)]] = [:]
        for r in reports {
            for w in r.writes where w.soldTotal != nil { confirmations[w.sku, default: []].append((r.shop, w)) }
        }
        return try await db.retryingTransaction(
            isolation: .readCommitted, retry: PostgresRetryPolicy(maxAttempts: 20, maxDelay: .milliseconds(500))
        ) { tx in
            var skus = Set(confirmations.keys)
            if allGuarded {
                for row in try await tx.query("SELECT DISTINCT sku FROM guard_shares") {
                    skus.insert(try row.decode(String.self, at: 0))
                }
            }
            guard !skus.isEmpty else { return [] }
            var state = StockState()
            state.guardDefaults = guardDefaults
            try await Self.lockSkus(skus.sorted(), into: &state, tx: tx)
            let initial = state
            for sku in skus.sorted() where state.guards[sku] != nil {
                for (shop, w) in confirmations[sku] ?? [] {
                    state.guards[sku]!.confirm(
                        shop: shop, version: w.version, value: w.value, heldBack: w.heldBack ?? 0, soldTotal: w.soldTotal!)
                }
                state.reviewGuard(sku: sku)
            }
            let messages = state.takeChanges(computedAtMillis: computedAtMillis)
            try await writeBack(initial: initial, final: state, messages: messages, refundOrders: [:], tx: tx)
            return try await Self.insertOutbox(
                messages: messages, catalogs: [], computedAtMillis: computedAtMillis, routes: routes, tx: tx)
        }
    }

    /// Sets (or, with nil, clears) a SKU's own guard threshold; false when the SKU is unknown.
    func setGuardThreshold(sku: String, threshold: Int64?) async throws -> Bool {
        let rows = try await db.query("UPDATE skus SET guard_threshold = $2 WHERE sku = $1 RETURNING sku", [sku, threshold])
        return !rows.isEmpty
    }

    /// The guard rows of a SKU, for `explain` (empty in mirror mode).
    func guardShares(sku: String) async throws -> [SkuExplanation.GuardShare] {
        try await db.query(
            "SELECT shop, share, granted, sold_total, reason FROM guard_shares WHERE sku = $1 ORDER BY shop", [sku]
        ).map {
            SkuExplanation.GuardShare(
                shop: try $0.decode(String.self, at: 0), share: try $0.decode(Int64.self, at: 1),
                granted: try $0.decode(Int64?.self, at: 2), soldSinceGuard: try $0.decode(Int64.self, at: 3),
                reason: try $0.decode(String.self, at: 4))
        }
    }
}
