import Postgres
import StockCore

/// The calculator's tables, applied by `calculator migrate` (and at `calculator run` start) through the ``Migrator``.
enum CalculatorSchema {
    /// All migrations, in order. Never edit an applied one; add a new version.
    static let migrations: [Migration] = [
        Migration(
            version: 1, name: "stock truth, orders, dedupe, outbox",
            sql: """
                CREATE TABLE warehouses (
                    name text PRIMARY KEY,
                    for_sale boolean NOT NULL DEFAULT true
                );
                INSERT INTO warehouses (name, for_sale) VALUES ('default', true);

                -- One row per SKU: on_hand counts warehouses for sale only.
                CREATE TABLE skus (
                    sku text PRIMARY KEY,
                    on_hand bigint NOT NULL DEFAULT 0,
                    reserved bigint NOT NULL DEFAULT 0,
                    safety_stock bigint NOT NULL DEFAULT 0 CHECK (safety_stock >= 0),
                    version bigint NOT NULL DEFAULT 0,
                    last_causes text NOT NULL DEFAULT '',
                    updated_at timestamptz NOT NULL DEFAULT now()
                );

                -- Physical units per SKU and warehouse (for sale or not).
                CREATE TABLE stock_levels (
                    sku text NOT NULL,
                    warehouse text NOT NULL,
                    on_hand bigint NOT NULL,
                    PRIMARY KEY (sku, warehouse)
                );

                -- The newest applied snapshot per order; updated_at_ms is NULL while only a shipment or a refund
                -- referenced the order.
                CREATE TABLE orders (
                    shop text NOT NULL,
                    order_id bigint NOT NULL,
                    updated_at_ms bigint,
                    cancelled boolean NOT NULL DEFAULT false,
                    PRIMARY KEY (shop, order_id)
                );

                -- reserved = what the line currently adds to skus.reserved (its open quantity).
                CREATE TABLE order_lines (
                    shop text NOT NULL,
                    order_id bigint NOT NULL,
                    line_id bigint NOT NULL,
                    sku text,
                    quantity bigint NOT NULL DEFAULT 0,
                    current_quantity bigint NOT NULL DEFAULT 0,
                    shipped bigint NOT NULL DEFAULT 0,
                    refund_cancelled bigint NOT NULL DEFAULT 0,
                    reserved bigint NOT NULL DEFAULT 0,
                    PRIMARY KEY (shop, order_id, line_id)
                );
                CREATE INDEX order_lines_open_by_sku ON order_lines (sku) WHERE reserved <> 0;

                CREATE TABLE refunds (
                    shop text NOT NULL,
                    refund_id bigint NOT NULL,
                    order_id bigint NOT NULL,
                    PRIMARY KEY (shop, refund_id)
                );

                -- Each shop's variants: the SKU ↔ inventory item map exporters need.
                CREATE TABLE variants (
                    shop text NOT NULL,
                    variant_id bigint NOT NULL,
                    product_id bigint NOT NULL,
                    sku text,
                    inventory_item_id bigint,
                    updated_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (shop, variant_id)
                );
                CREATE INDEX variants_by_sku ON variants (sku);

                -- Dedupe: every applied message id, kept at least 7 days after ingest received it.
                CREATE TABLE processed_messages (
                    message_id text PRIMARY KEY,
                    received_at timestamptz NOT NULL,
                    processed_at timestamptz NOT NULL DEFAULT now()
                );
                CREATE INDEX processed_messages_received_at ON processed_messages (received_at);

                -- Transactional outbox: written in the transaction that changed the truth, published after commit.
                CREATE TABLE outbox (
                    id bigserial PRIMARY KEY,
                    exchange text NOT NULL,
                    routing_key text NOT NULL,
                    message_id text NOT NULL,
                    message_type text NOT NULL,
                    body text NOT NULL,
                    sku text,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    sent_at timestamptz
                );
                CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;
                CREATE INDEX outbox_by_sku ON outbox (sku, id);
                """),
        Migration(
            version: 2, name: "per-SKU history for explain",
            sql: """
                -- One row per committed version of a SKU, written in the batch transaction that produced it (one
                -- multi-row insert per batch); pruned by age with the dedupe ids. `origins` is "shop=units ..."
                -- for the shops whose own orders moved the reservation.
                CREATE TABLE sku_history (
                    sku text NOT NULL,
                    version bigint NOT NULL,
                    available bigint NOT NULL,
                    on_hand bigint NOT NULL,
                    reserved bigint NOT NULL,
                    causes text NOT NULL,
                    origins text NOT NULL DEFAULT '',
                    first_received_at_ms bigint,
                    computed_at_ms bigint NOT NULL,
                    PRIMARY KEY (sku, version)
                );
                CREATE INDEX sku_history_computed_at ON sku_history (computed_at_ms);
                """),
        Migration(
            version: 3, name: "order snapshots: triggered-at breaks updated_at ties",
            sql: """
                -- Shopify's updated_at has whole seconds: two changes of one order within a second carry the same
                -- stamp. X-Shopify-Triggered-At (milliseconds) of the applied snapshot orders those.
                ALTER TABLE orders ADD COLUMN triggered_at_ms bigint;
                """),
        Migration(
            version: 4, name: "what exporters wrote into each shop, for explain",
            sql: """
                -- From the exporters' write reports (best effort); pruned by age with the history.
                CREATE TABLE shop_writes (
                    sku text NOT NULL,
                    shop text NOT NULL,
                    version bigint NOT NULL,
                    value bigint NOT NULL,
                    written_at_ms bigint NOT NULL,
                    first_received_at_ms bigint,
                    PRIMARY KEY (sku, shop, version)
                );
                CREATE INDEX shop_writes_written_at ON shop_writes (written_at_ms);
                """),
        Migration(
            version: 5, name: "zero-oversell guard",
            sql: """
                -- A SKU's own guard threshold (NULL: STOCKWIRE_CALCULATOR_GUARD_THRESHOLD).
                ALTER TABLE skus ADD COLUMN guard_threshold bigint CHECK (guard_threshold >= 0);
                -- One row per shop of every SKU whose guard is active (no rows: mirror mode). See StockGuard.
                CREATE TABLE guard_shares (
                    sku text NOT NULL,
                    shop text NOT NULL,
                    share bigint NOT NULL,
                    granted bigint,
                    sold_total bigint NOT NULL,
                    raised_at_version bigint NOT NULL,
                    demand double precision NOT NULL,
                    demand_at_ms bigint NOT NULL,
                    last_activity_at_ms bigint NOT NULL,
                    reason text NOT NULL,
                    PRIMARY KEY (sku, shop)
                );
                """),
        Migration(
            version: 6, name: "write reports name the mutation",
            sql: """
                -- The @idempotent key of the mutation behind a write (NULL: the shop held the level already, nothing
                -- was sent). The shop knows its writes by it, so a write can be placed in the shop's own order.
                ALTER TABLE shop_writes ADD COLUMN idempotency_key text;
                """),
    ]
}
