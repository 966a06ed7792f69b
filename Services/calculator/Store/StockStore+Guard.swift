import Contracts
import Foundation
import Postgres
import StockCore

/// The zero-oversell guard's part of the store: guard rows load and save with their SKUs; exporters' confirmations
/// and time passing re-allocate in transactions of their own (``reallocate(reports:allGuarded:computedAtMillis:)``).
extension StockStore {
    /// Locks `skus` (sorted) and loads them and their guards into `state`.
    /// Locks SKUs in sorted order (`$1`, a text array), each with its guard's rows (none when unguarded): one
    /// statement, its rows read by ``load(locked:into:)``.
    static let lockSkus = PostgresStatement(
        name: "stockstore_lock_skus",
        sql: """
            SELECT s.sku, s.on_hand, s.reserved, s.safety_stock, s.version, s.guard_threshold,
                   g.shop, g.share, g.granted, g.sold_total, g.raised_at_version, g.demand, g.demand_at_ms,
                   g.last_activity_at_ms, g.reason
            FROM skus s LEFT JOIN guard_shares g ON g.sku = s.sku
            WHERE s.sku = ANY($1::text[]) ORDER BY s.sku, g.shop FOR UPDATE OF s
            """)

    /// The SKUs and guards ``lockSkus`` returned, into `state`.
    static func load(locked rows: PostgresQueryResult, into state: inout StockState) throws {
        for row in rows {
            let sku = try row.decode(String.self, at: 0)
            state.skus[sku] = SkuStock(
                onHand: try row.decode(Int64.self, at: 1), reserved: try row.decode(Int64.self, at: 2),
                safetyStock: try row.decode(Int64.self, at: 3), version: try row.decode(Int64.self, at: 4),
                guardThreshold: try row.decode(Int64?.self, at: 5))
            guard try !row.isNull(at: 6) else { continue }
            let shop = try row.shopDomain(at: 6, of: "guard_shares")
            var g = state.guards[sku] ?? StockGuard()
            g.active = true
            g.shops[shop] = StockGuard.Shop(
                share: try row.decode(Int64.self, at: 7), granted: try row.decode(Int64?.self, at: 8),
                soldTotal: try row.decode(Int64.self, at: 9), raisedAtVersion: try row.decode(Int64.self, at: 10),
                demand: try row.decode(Double.self, at: 11), demandAtMillis: try row.decode(Int64.self, at: 12),
                lastActivityAtMillis: try row.decode(Int64.self, at: 13), reason: try row.decode(String.self, at: 14))
            state.guards[sku] = g
        }
    }

    /// The statements that save the guards that changed: their rows are replaced; a guard that ended loses its rows.
    static func guardStatements(initial: [String: StockGuard], final: [String: StockGuard]) -> [StatementBatch.Item] {
        let changed = Set(initial.keys).union(final.keys).filter { initial[$0] != final[$0] }.sorted()
        guard !changed.isEmpty else { return [] }
        var statements: [StatementBatch.Item] = [
            (
                PostgresStatement(name: "stockstore_guards_delete", sql: "DELETE FROM guard_shares WHERE sku = ANY($1::text[])"),
                [changed]
            )
        ]
        var rows: [(String, ShopDomain, StockGuard.Shop)] = []
        for sku in changed {
            guard let g = final[sku], g.active else { continue }
            for (shop, s) in g.shops.sorted(by: { $0.key < $1.key }) { rows.append((sku, shop, s)) }
        }
        guard !rows.isEmpty else { return statements }
        statements.append(
            (
                PostgresStatement(
                    name: "stockstore_guards_insert",
                    sql: """
                        INSERT INTO guard_shares (sku, shop, share, granted, sold_total, raised_at_version, demand, demand_at_ms,
                                                  last_activity_at_ms, reason)
                        SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[],
                                             $7::float8[], $8::bigint[], $9::bigint[], $10::text[])
                        """),
                [
                    rows.map(\.0), rows.map(\.1.description), rows.map(\.2.share), rows.map(\.2.granted), rows.map(\.2.soldTotal),
                    rows.map(\.2.raisedAtVersion), rows.map(\.2.demand), rows.map(\.2.demandAtMillis),
                    rows.map(\.2.lastActivityAtMillis), rows.map(\.2.reason),
                ]
            ))
        return statements
    }

    /// The outbox rows a batch writes, and the statement that writes them.
    struct OutboxWrite {
        var statement: PostgresStatement
        var parameters: [(any PostgresEncodable)?]
        var pending: [(exchange: String, key: String, id: String, type: String, body: String)]

        /// The messages with the ids the statement returned, to publish after commit.
        func messages(ids rows: PostgresQueryResult) throws -> [OutboxMessage] {
            let ids = try rows.map { try $0.decode(Int64.self, at: 0) }
            return zip(ids, pending).map { id, p in
                OutboxMessage(
                    id: id, exchange: p.exchange, routingKey: p.key, messageId: p.id, messageType: p.type,
                    body: Array(p.body.utf8))
            }
        }
    }

    /// The statement that writes the SKUs' new versions (`skus`), their history (`sku_history`) and the availability
    /// and catalog messages (`outbox`): three data-modifying parts in one statement. Nil when there is nothing to
    /// write.
    static func versionsAndOutbox(
        messages: [AvailabilityMessage], catalogs: [CatalogUpdate], computedAtMillis: Int64, routes: OutboxRoutes
    ) throws -> OutboxWrite? {
        var pending: [(exchange: String, key: String, id: String, type: String, body: String, sku: String?)] = []
        for m in messages {
            pending.append(
                (
                    routes.availabilityExchange, m.sku, "\(m.sku)/\(m.version)", AvailabilityMessage.messageType,
                    String(decoding: try m.json(), as: UTF8.self), m.sku
                ))
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
                (
                    routes.catalogExchange, c.shop.description, "catalog/\(c.shop)/\(c.productId)/\(computedAtMillis)",
                    CatalogMessage.messageType, String(decoding: try encoder.encode(message), as: UTF8.self), nil
                ))
        }
        guard !pending.isEmpty else { return nil }
        let outboxParameters: [(any PostgresEncodable)?] = [
            pending.map(\.exchange), pending.map(\.key), pending.map(\.id), pending.map(\.type), pending.map(\.body),
            pending.map(\.sku),
        ]
        let insertOutbox = """
            INSERT INTO outbox (exchange, routing_key, message_id, message_type, body, sku)
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
            RETURNING id
            """
        let written = pending.map { ($0.exchange, $0.key, $0.id, $0.type, $0.body) }
        if messages.isEmpty {
            return OutboxWrite(
                statement: PostgresStatement(name: "stockstore_outbox", sql: insertOutbox), parameters: outboxParameters,
                pending: written)
        } else {
            let causes = messages.map { $0.causes.joined(separator: " ") }
            return OutboxWrite(
                statement: PostgresStatement(
                    name: "stockstore_versions_outbox",
                    sql: """
                        WITH versions AS (
                            UPDATE skus s SET on_hand = t.on_hand, reserved = t.reserved, version = t.version,
                                   last_causes = t.causes, updated_at = now()
                            FROM unnest($7::text[], $8::bigint[], $9::bigint[], $10::bigint[], $11::text[])
                                 AS t(sku, on_hand, reserved, version, causes)
                            WHERE s.sku = t.sku
                            RETURNING s.sku
                        ), history AS (
                            INSERT INTO sku_history (sku, version, available, on_hand, reserved, causes, origins,
                                                     first_received_at_ms, computed_at_ms)
                            SELECT * FROM unnest($7::text[], $10::bigint[], $12::bigint[], $8::bigint[], $9::bigint[],
                                                 $11::text[], $13::text[], $14::bigint[], $15::bigint[])
                            ON CONFLICT (sku, version) DO NOTHING
                            RETURNING sku
                        )
                        \(insertOutbox)
                        """),
                parameters: outboxParameters + [
                    messages.map(\.sku), messages.map(\.onHand), messages.map(\.reserved), messages.map(\.version), causes,
                    messages.map(\.available), messages.map { SkuExplanation.encodeOrigins($0.originQuantities) },
                    messages.map(\.firstReceivedAtMillis), messages.map(\.computedAtMillis),
                ], pending: written)
        }
    }

    /// Applies exporters' confirmations of guarded writes and lets every guard involved (or, with `allGuarded`,
    /// every active guard) re-allocate: units freed by a confirmed lower count go to the shops that sell, idle
    /// surplus is given back. One transaction; returns the outbox rows of the new versions, to publish.
    func reallocate(reports: [WriteReport], allGuarded: Bool, computedAtMillis: Int64) async throws -> [OutboxMessage] {
        let routes = routes
        let guardDefaults = guardDefaults
        var confirmations: [String: [(shop: ShopDomain, write: WriteReport.Write)]] = [:]
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
            try Self.load(locked: try await tx.query(Self.lockSkus, [skus.sorted()]), into: &state)
            let initial = state
            for sku in skus.sorted() where state.guards[sku] != nil {
                for (shop, w) in confirmations[sku] ?? [] {
                    state.guards[sku]!.confirm(
                        shop: shop, version: w.version, value: w.value, heldBack: w.heldBack ?? 0, soldTotal: w.soldTotal!)
                }
                state.reviewGuard(sku: sku)
            }
            let messages = state.takeChanges(computedAtMillis: computedAtMillis)
            var writes = StatementBatch()
            writes.add(Self.writeBack(initial: initial, final: state, refundOrders: [:]))
            let outbox = try Self.versionsAndOutbox(
                messages: messages, catalogs: [], computedAtMillis: computedAtMillis, routes: routes)
            let outboxRows = outbox.map { writes.add($0.statement, $0.parameters) }
            let written = try await writes.run(tx, commit: true)
            guard let outbox, let outboxRows else { return [] }
            return try outbox.messages(ids: written[outboxRows])
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
                shop: try $0.shopDomain(at: 0, of: "guard_shares"), share: try $0.decode(Int64.self, at: 1),
                granted: try $0.decode(Int64?.self, at: 2), soldSinceGuard: try $0.decode(Int64.self, at: 3),
                reason: try $0.decode(String.self, at: 4))
        }
    }
}
