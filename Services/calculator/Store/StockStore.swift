import Contracts
import Foundation
import Postgres
import StockCore

/// One event of a batch, ready to apply.
struct PreparedEvent: Sendable {
    /// Position in the batch, to map outcomes back to deliveries.
    var index: Int
    var event: StockEvent
    var cause: EventCause
}

/// A message written to the outbox, to publish after commit.
struct OutboxMessage: Sendable, Equatable {
    var id: Int64
    var exchange: String
    var routingKey: String
    var messageId: String
    var messageType: String
    var body: [UInt8]
}

/// What one batch transaction did.
struct BatchResult: Sendable {
    /// Outcome per batch index; duplicates (already applied earlier) are absent here and listed in ``duplicates``.
    var outcomes: [Int: ApplyOutcome] = [:]
    /// Batch indexes whose message id was already applied.
    var duplicates: [Int] = []
    /// What to publish, in outbox order.
    var outbox: [OutboxMessage] = []
    /// Order lines without a SKU seen in this batch.
    var linesWithoutSku = 0
    /// Custom order lines (no product or variant) seen in this batch.
    var customLines = 0
    /// Transaction attempts (more than 1 after a deadlock or serialization failure).
    var attempts = 1
}

/// The names of the exchanges outbox messages go to.
struct OutboxRoutes: Sendable {
    var availabilityExchange: String
    var catalogExchange: String
}

/// The stock truth in PostgreSQL: loads what a batch touches, applies it with ``StockState``, writes back the
/// differences and the outbox, all in one transaction.
struct StockStore: Sendable {
    let db: PostgresConnection
    let routes: OutboxRoutes
    /// The zero-oversell guard's defaults.
    var guardDefaults = StockGuard.Settings()

    // MARK: Batch

    /// Applies `events` (distinct message ids) exactly once: one transaction that dedupes by message id, locks
    /// touched orders and SKUs in sorted order, applies, bumps versions and writes outbox rows. Retries deadlocks
    /// and serialization failures.
    /// `marking`: outbox rows published since the last batch, marked sent in this transaction (``OutboxMarks``).
    func apply(_ events: [PreparedEvent], computedAtMillis: Int64, marking: [Int64] = []) async throws -> BatchResult {
        let routes = routes
        let guardDefaults = guardDefaults
        return try await db.retryingTransaction(
            isolation: .readCommitted, retry: PostgresRetryPolicy(maxAttempts: 20, maxDelay: .milliseconds(500))
        ) { tx in
            var result = BatchResult()
            result.attempts = tx.attempt
            guard !events.isEmpty else {
                if !marking.isEmpty { try await Self.markSent(marking, tx: tx) }
                return result
            }

            // What the batch touches, for every event: the statements that load it go out with the dedupe in one
            // round trip, before we know which events are new. A duplicate's order is then loaded and locked for
            // nothing, which is rare (a redelivery) and harmless; only the new events' rows enter the state.
            let sorted = events.sorted { $0.cause.messageId < $1.cause.messageId }
            let all = Touched(events)

            // 1. Dedupe: the insert is also the lock that makes a concurrent instance wait for our commit. The same
            //    statement marks the outbox rows published since the last batch (no round trip or commit of their own).
            //    With it: the warehouses, then the touched orders (placeholder rows so that every one can be locked,
            //    locked in sorted order, with their lines) and refunds.
            var first = StatementBatch()
            let dedupe = first.add(
                PostgresStatement(
                    name: "stockstore_dedupe",
                    sql: """
                        WITH marked AS (\(Self.markSentSQL(ids: "$3")) RETURNING id)
                        INSERT INTO processed_messages (message_id, received_at)
                        SELECT m, to_timestamp(r / 1000.0) FROM unnest($1::text[], $2::bigint[]) AS t(m, r) ORDER BY m
                        ON CONFLICT (message_id) DO NOTHING RETURNING message_id
                        """), [sorted.map(\.cause.messageId), sorted.map(\.cause.receivedAtMillis), marking])
            let warehouses = first.add(
                PostgresStatement(name: "stockstore_warehouses", sql: "SELECT name, for_sale FROM warehouses"), [])
            let orderKeys = all.orderKeys.sorted()
            var lockedOrders: Int?
            var orderLines: Int?
            if !orderKeys.isEmpty {
                let shops = orderKeys.map(\.shop.description)
                let ids = orderKeys.map(\.orderId)
                first.add(
                    PostgresStatement(
                        name: "stockstore_order_placeholders",
                        sql: """
                            INSERT INTO orders (shop, order_id)
                            SELECT s, o FROM unnest($1::text[], $2::bigint[]) AS t(s, o) ORDER BY s, o
                            ON CONFLICT DO NOTHING
                            """), [shops, ids])
                lockedOrders = first.add(
                    PostgresStatement(
                        name: "stockstore_lock_orders",
                        sql: """
                            SELECT o.shop, o.order_id, o.updated_at_ms, o.cancelled, o.triggered_at_ms FROM orders o
                            JOIN unnest($1::text[], $2::bigint[]) AS t(s, i) ON o.shop = t.s AND o.order_id = t.i
                            ORDER BY o.shop, o.order_id FOR UPDATE OF o
                            """), [shops, ids])
                orderLines = first.add(
                    PostgresStatement(
                        name: "stockstore_order_lines",
                        sql: """
                            SELECT l.shop, l.order_id, l.line_id, l.sku, l.quantity, l.current_quantity, l.shipped,
                                   l.refund_cancelled, l.reserved
                            FROM order_lines l
                            JOIN unnest($1::text[], $2::bigint[]) AS t(s, i) ON l.shop = t.s AND l.order_id = t.i
                            """), [shops, ids])
            }
            var refunds: Int?
            if !all.refundKeys.isEmpty {
                let keys = Array(all.refundKeys)
                refunds = first.add(
                    PostgresStatement(
                        name: "stockstore_refunds",
                        sql: """
                            SELECT r.shop, r.refund_id FROM refunds r
                            JOIN unnest($1::text[], $2::bigint[]) AS t(s, i) ON r.shop = t.s AND r.refund_id = t.i
                            """), [keys.map(\.shop.description), keys.map(\.refundId)])
            }
            let loaded = try await first.run(tx)

            let fresh = Set(try loaded[dedupe].map { try $0.decode(String.self, at: 0) })
            var toApply: [PreparedEvent] = []
            for e in events {
                if fresh.contains(e.cause.messageId) { toApply.append(e) } else { result.duplicates.append(e.index) }
            }
            guard !toApply.isEmpty else { return result }
            let touched = toApply.count == events.count ? all : Touched(toApply)
            let refundOrders = touched.refundOrders
            var movementSkus = touched.movementSkus

            var state = StockState()
            state.guardDefaults = guardDefaults
            state.warehouses = [:]
            for row in loaded[warehouses] {
                state.warehouses[try row.decode(String.self, at: 0)] = try row.decode(Bool.self, at: 1)
            }
            if let lockedOrders {
                for row in loaded[lockedOrders] {
                    let key = OrderKey(shop: try row.shopDomain(at: 0, of: "orders"), orderId: try row.decode(Int64.self, at: 1))
                    guard touched.orderKeys.contains(key) else { continue }
                    state.orders[key] = OrderState(
                        updatedAtMillis: try row.decode(Int64?.self, at: 2),
                        triggeredAtMillis: try row.decode(Int64?.self, at: 4), cancelled: try row.decode(Bool.self, at: 3))
                }
            }
            if let orderLines {
                for row in loaded[orderLines] {
                    let key = OrderKey(
                        shop: try row.shopDomain(at: 0, of: "order_lines"), orderId: try row.decode(Int64.self, at: 1))
                    guard touched.orderKeys.contains(key) else { continue }
                    let line = OrderLine(
                        sku: try row.decode(String?.self, at: 3), quantity: try row.decode(Int64.self, at: 4),
                        currentQuantity: try row.decode(Int64.self, at: 5), shipped: try row.decode(Int64.self, at: 6),
                        refundCancelled: try row.decode(Int64.self, at: 7), reserved: try row.decode(Int64.self, at: 8))
                    state.orders[key, default: OrderState()].lines[try row.decode(Int64.self, at: 2)] = line
                    if let sku = line.sku { movementSkus.insert(sku) }
                }
            }
            if let refunds {
                for row in loaded[refunds] {
                    let key = RefundKey(
                        shop: try row.shopDomain(at: 0, of: "refunds"), refundId: try row.decode(Int64.self, at: 1))
                    if touched.refundKeys.contains(key) { state.refunds.insert(key) }
                }
            }

            // 2. SKUs, in one round trip: orders and products register new SKUs; then every touched SKU is locked in
            //    sorted order, with its guard and its stock levels.
            let touchedSkus = touched.registeredSkus.union(movementSkus).sorted()
            if !touchedSkus.isEmpty {
                var second = StatementBatch()
                if !touched.registeredSkus.isEmpty {
                    second.add(
                        PostgresStatement(
                            name: "stockstore_register_skus",
                            sql:
                                "INSERT INTO skus (sku) SELECT s FROM unnest($1::text[]) AS t(s) ORDER BY s ON CONFLICT DO NOTHING"
                        ),
                        [touched.registeredSkus.sorted()])
                }
                let locked = second.add(Self.lockSkus, [touchedSkus])
                let levels = second.add(
                    PostgresStatement(
                        name: "stockstore_stock_levels",
                        sql: "SELECT sku, warehouse, on_hand FROM stock_levels WHERE sku = ANY($1::text[])"), [touchedSkus])
                let rows = try await second.run(tx)
                try Self.load(locked: rows[locked], into: &state)
                for row in rows[levels] {
                    state.levels[
                        LevelKey(sku: try row.decode(String.self, at: 0), warehouse: try row.decode(String.self, at: 1))] =
                        try row.decode(Int64.self, at: 2)
                }
            }

            // 3. Apply.
            let initial = state
            var rejected: [String] = []
            var catalogs: [CatalogUpdate] = []
            for e in toApply {
                let outcome = state.apply(e.event, cause: e.cause)
                result.outcomes[e.index] = outcome
                if case .rejected = outcome { rejected.append(e.cause.messageId) }
                if case .catalog(let c) = e.event, outcome == .applied { catalogs.append(c) }
            }
            result.linesWithoutSku = state.linesWithoutSku
            result.customLines = state.customLines
            let messages = state.takeChanges(computedAtMillis: computedAtMillis)

            // 4. Write back what changed, the new versions, their history and the outbox, and commit: one round trip.
            var writes = StatementBatch()
            writes.add(Self.writeBack(initial: initial, final: state, refundOrders: refundOrders))
            if !rejected.isEmpty {
                // A rejected message may be replayed once the cause is fixed: it must not count as applied.
                writes.add(
                    PostgresStatement(
                        name: "stockstore_processed_delete",
                        sql: "DELETE FROM processed_messages WHERE message_id = ANY($1::text[])"), [rejected])
            }
            let outbox = try Self.versionsAndOutbox(
                messages: messages, catalogs: catalogs, computedAtMillis: computedAtMillis, routes: routes)
            let outboxRows = outbox.map { writes.add($0.statement, $0.parameters) }
            let written = try await writes.run(tx, commit: true)
            if let outbox, let outboxRows { result.outbox = try outbox.messages(ids: written[outboxRows]) }
            return result
        }
    }

    /// The statements that write back what changed between `initial` and `state`: orders and their lines, refunds,
    /// stock levels, guards and catalog variants (the SKUs' new versions go with the outbox,
    /// ``versionsAndOutbox(messages:catalogs:computedAtMillis:routes:)``).
    static func writeBack(
        initial: StockState, final state: StockState, refundOrders: [RefundKey: Int64]
    ) -> [StatementBatch.Item] {
        var statements: [StatementBatch.Item] = []
        // Orders and their lines.
        var orderRows: [(OrderKey, OrderState)] = []
        var lineRows: [(OrderKey, Int64, OrderLine)] = []
        for (key, order) in state.orders {
            let before = initial.orders[key]
            if before?.updatedAtMillis != order.updatedAtMillis || before?.triggeredAtMillis != order.triggeredAtMillis
                || before?.cancelled != order.cancelled
            {
                orderRows.append((key, order))
            }
            for (lineId, line) in order.lines where before?.lines[lineId] != line {
                lineRows.append((key, lineId, line))
            }
        }
        if !orderRows.isEmpty {
            statements.append(
                (
                    PostgresStatement(
                        name: "stockstore_orders_upsert",
                        sql: """
                            INSERT INTO orders (shop, order_id, updated_at_ms, cancelled, triggered_at_ms)
                            SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::boolean[], $5::bigint[])
                            ON CONFLICT (shop, order_id) DO UPDATE
                            SET updated_at_ms = excluded.updated_at_ms, cancelled = excluded.cancelled,
                                triggered_at_ms = excluded.triggered_at_ms
                            """),
                    [
                        orderRows.map(\.0.shop.description), orderRows.map(\.0.orderId), orderRows.map(\.1.updatedAtMillis),
                        orderRows.map(\.1.cancelled), orderRows.map(\.1.triggeredAtMillis),
                    ]
                ))
        }
        if !lineRows.isEmpty {
            statements.append(
                (
                    PostgresStatement(
                        name: "stockstore_lines_upsert",
                        sql: """
                            INSERT INTO order_lines (shop, order_id, line_id, sku, quantity, current_quantity, shipped,
                                                     refund_cancelled, reserved)
                            SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::bigint[], $6::bigint[],
                                                 $7::bigint[], $8::bigint[], $9::bigint[])
                            ON CONFLICT (shop, order_id, line_id) DO UPDATE
                            SET sku = excluded.sku, quantity = excluded.quantity, current_quantity = excluded.current_quantity,
                                shipped = excluded.shipped, refund_cancelled = excluded.refund_cancelled,
                                reserved = excluded.reserved
                            """),
                    [
                        lineRows.map(\.0.shop.description), lineRows.map(\.0.orderId), lineRows.map(\.1), lineRows.map(\.2.sku),
                        lineRows.map(\.2.quantity), lineRows.map(\.2.currentQuantity), lineRows.map(\.2.shipped),
                        lineRows.map(\.2.refundCancelled), lineRows.map(\.2.reserved),
                    ]
                ))
        }
        let newRefunds = state.refunds.subtracting(initial.refunds)
        if !newRefunds.isEmpty {
            let list = Array(newRefunds)
            statements.append(
                (
                    PostgresStatement(
                        name: "stockstore_refunds_insert",
                        sql:
                            "INSERT INTO refunds (shop, refund_id, order_id) SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[])"
                    ),
                    [list.map(\.shop.description), list.map(\.refundId), list.map { refundOrders[$0] ?? 0 }]
                ))
        }

        // Stock.
        let levelRows = state.levels.filter { initial.levels[$0.key] != $0.value }.sorted { $0.key < $1.key }
        if !levelRows.isEmpty {
            statements.append(
                (
                    PostgresStatement(
                        name: "stockstore_levels_upsert",
                        sql: """
                            INSERT INTO stock_levels (sku, warehouse, on_hand)
                            SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
                            ON CONFLICT (sku, warehouse) DO UPDATE SET on_hand = excluded.on_hand
                            """), [levelRows.map(\.key.sku), levelRows.map(\.key.warehouse), levelRows.map(\.value)]
                ))
        }
        statements += guardStatements(initial: initial.guards, final: state.guards)

        // Catalog.
        let variantRows = state.variants.filter { initial.variants[$0.key] != $0.value }
        if !variantRows.isEmpty {
            let rows = Array(variantRows)
            statements.append(
                (
                    PostgresStatement(
                        name: "stockstore_variants_upsert",
                        sql: """
                            INSERT INTO variants (shop, variant_id, product_id, sku, inventory_item_id)
                            SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::bigint[])
                            ON CONFLICT (shop, variant_id) DO UPDATE
                            SET product_id = excluded.product_id, sku = excluded.sku,
                                inventory_item_id = excluded.inventory_item_id, updated_at = now()
                            """),
                    [
                        rows.map(\.key.shop.description), rows.map(\.key.variantId), rows.map(\.value.productId),
                        rows.map(\.value.sku),
                        rows.map(\.value.inventoryItemId),
                    ]
                ))
        }
        return statements
    }

    // MARK: Outbox

    /// The update that marks outbox rows as published, their ids in the array parameter `ids` (`$1`, …).
    static func markSentSQL(ids: String) -> String {
        "UPDATE outbox SET sent_at = now() WHERE id = ANY(\(ids)::bigint[]) AND sent_at IS NULL"
    }

    /// Marks outbox rows as published.
    func markSent(_ ids: [Int64]) async throws {
        guard !ids.isEmpty else { return }
        try await db.query(Self.markSentSQL(ids: "$1"), [ids])
    }

    static func markSent(_ ids: [Int64], tx: PostgresTransaction) async throws {
        try await tx.query(markSentSQL(ids: "$1"), [ids])
    }

    /// Unpublished outbox rows, oldest first; `minimumAge` leaves rows a live instance is publishing right now.
    func unsent(limit: Int, minimumAge: Duration) async throws -> [OutboxMessage] {
        let seconds = Double(minimumAge.components.seconds) + Double(minimumAge.components.attoseconds) / 1e18
        return try await db.query(
            """
            SELECT id, exchange, routing_key, message_id, message_type, body FROM outbox
            WHERE sent_at IS NULL AND created_at <= now() - make_interval(secs => $1) ORDER BY id LIMIT $2
            """, [seconds, limit]
        ).map {
            OutboxMessage(
                id: try $0.decode(Int64.self, at: 0), exchange: try $0.decode(String.self, at: 1),
                routingKey: try $0.decode(String.self, at: 2), messageId: try $0.decode(String.self, at: 3),
                messageType: try $0.decode(String.self, at: 4), body: Array(try $0.decode(String.self, at: 5).utf8))
        }
    }

    /// Deletes dedupe ids, published outbox rows and SKU history older than `retention`; returns how many rows went.
    @discardableResult
    func purge(retention: Duration) async throws -> Int {
        let seconds = Double(retention.components.seconds)
        let a = try await db.query(
            "DELETE FROM processed_messages WHERE received_at < now() - make_interval(secs => $1)", [seconds])
        let b = try await db.query(
            "DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < now() - make_interval(secs => $1)", [seconds])
        let c = try await db.query(
            "DELETE FROM sku_history WHERE computed_at_ms < (extract(epoch FROM now()) * 1000)::bigint - $1::bigint",
            [Int64(seconds * 1000)])
        let d = try await db.query(
            "DELETE FROM shop_writes WHERE written_at_ms < (extract(epoch FROM now()) * 1000)::bigint - $1::bigint",
            [Int64(seconds * 1000)])
        return (a.affectedRows ?? 0) + (b.affectedRows ?? 0) + (c.affectedRows ?? 0) + (d.affectedRows ?? 0)
    }

    /// Keeps exporters' write reports (a repeated report changes nothing).
    func record(_ reports: [WriteReport]) async throws {
        let rows = reports.flatMap { r in r.writes.map { (r.shop.description, $0, $0.idempotencyKey ?? r.idempotencyKey) } }
        guard !rows.isEmpty else { return }
        try await db.query(
            """
            INSERT INTO shop_writes (sku, shop, version, value, written_at_ms, first_received_at_ms, idempotency_key)
            SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::text[])
            ON CONFLICT DO NOTHING
            """,
            [
                rows.map(\.1.sku), rows.map(\.0), rows.map(\.1.version), rows.map(\.1.value), rows.map(\.1.writtenAtMillis),
                rows.map(\.1.firstReceivedAtMillis), rows.map(\.2),
            ])
    }

    // MARK: Queries

    /// The truth of one SKU: quantities, version, last causes, and the latest published messages.
    func stock(sku: String) async throws -> (SkuStock, causes: [String], levels: [(String, Int64, Bool)])? {
        let rows = try await db.query(
            "SELECT on_hand, reserved, safety_stock, version, last_causes, guard_threshold FROM skus WHERE sku = $1", [sku])
        guard let row = rows.first else { return nil }
        let stock = SkuStock(
            onHand: try row.decode(Int64.self, at: 0), reserved: try row.decode(Int64.self, at: 1),
            safetyStock: try row.decode(Int64.self, at: 2), version: try row.decode(Int64.self, at: 3),
            guardThreshold: try row.decode(Int64?.self, at: 5))
        let causes = try row.decode(String.self, at: 4).split(separator: " ").map(String.init)
        let levels = try await db.query(
            """
            SELECT l.warehouse, l.on_hand, coalesce(w.for_sale, false) FROM stock_levels l
            LEFT JOIN warehouses w ON w.name = l.warehouse WHERE l.sku = $1 ORDER BY l.warehouse
            """, [sku]
        ).map { (try $0.decode(String.self, at: 0), try $0.decode(Int64.self, at: 1), try $0.decode(Bool.self, at: 2)) }
        return (stock, causes, levels)
    }
}
