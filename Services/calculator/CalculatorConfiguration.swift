import AMQP
import Contracts
import ServiceKit
import StockCore

/// Every setting of `calculator run`, with documented defaults; resolved from flags, then environment, then defaults.
struct CalculatorConfiguration: Sendable {
    /// libpq conninfo of the stock truth (`STOCKWIRE_POSTGRES`).
    var postgres = CalculatorConfiguration.defaultPostgres
    /// Broker settings (`STOCKWIRE_AMQP_URL`, `STOCKWIRE_AMQP_PASSWORD_FILE`).
    var broker = BrokerSettings(url: nil, passwordFile: nil)
    /// Most events per transaction (`STOCKWIRE_CALCULATOR_BATCH_SIZE`).
    var batchSize = 1_000
    /// Longest wait for a batch to fill once its first event arrived (`STOCKWIRE_CALCULATOR_LINGER_MS`).
    var linger: Duration = .milliseconds(5)
    /// Batches in the pipeline (`STOCKWIRE_CALCULATOR_PIPELINE`): while one committed batch is published and
    /// acknowledged, the next one's transaction runs. 1 = strictly one batch at a time.
    var pipelineDepth = 2
    /// Ops server address (`STOCKWIRE_CALCULATOR_OPS_HOST`, `STOCKWIRE_CALCULATOR_OPS_PORT`).
    var opsHost = "0.0.0.0"
    var opsPort = 9102
    /// The broker names the calculator declares and uses; tests use their own. The queue consumed
    /// (`STOCKWIRE_CALCULATOR_QUEUE`), the exchange it is bound to (`STOCKWIRE_EVENTS_EXCHANGE`), where availability
    /// goes (`STOCKWIRE_AVAILABILITY_EXCHANGE`), where the SKU ↔ variant map goes (`STOCKWIRE_CATALOG_EXCHANGE`),
    /// operator requests (`exporter resync <shop>`) the calculator answers (`STOCKWIRE_CALCULATOR_REQUESTS_QUEUE`),
    /// where poison messages go (`STOCKWIRE_DEAD_EXCHANGE`), and the exporters' write reports (for `explain`): their
    /// exchange and the queue the calculator keeps them from.
    var names = StockwireTopology.CalculatorNames()
    /// How often the relay looks for unpublished outbox rows (`STOCKWIRE_CALCULATOR_RELAY_INTERVAL_MS`).
    var relayInterval: Duration = .seconds(2)
    /// Interval of the periodic reconciliation (`STOCKWIRE_CALCULATOR_RECONCILE_INTERVAL_S`, default an hour); nil =
    /// off.
    var reconcileInterval: Duration? = .seconds(3600)
    /// The zero-oversell guard (see StockGuard): default threshold (`STOCKWIRE_CALCULATOR_GUARD_THRESHOLD`, 0 =
    /// off; `calculator guard <sku> --threshold` sets one SKU's), the shops that sell the SKUs
    /// (`STOCKWIRE_CALCULATOR_GUARD_SHOPS`, comma-separated domains; shops whose orders touch a SKU are added),
    /// re-balancing after idle seconds (`STOCKWIRE_CALCULATOR_GUARD_REBALANCE_S`, default 10) and the demand
    /// half-life (`STOCKWIRE_CALCULATOR_GUARD_DEMAND_HALF_LIFE_S`, default 60).
    var guardDefaults = StockGuard.Settings()
    /// How often guarded SKUs are looked at for re-balancing (`STOCKWIRE_CALCULATOR_GUARD_REVIEW_MS`, default 500).
    var guardReview: Duration = .milliseconds(500)
    /// How long message ids are kept for dedupe (`STOCKWIRE_CALCULATOR_DEDUPE_DAYS`, at least 7).
    var dedupeRetentionDays = 7
    /// Test hook (`STOCKWIRE_CALCULATOR_CRASH_AFTER_COMMIT=1`): the process kills itself with SIGKILL right after
    /// the first batch commit, before publishing, to prove the outbox.
    var crashAfterCommit = false

    static let defaultPostgres = "host=127.0.0.1 port=5432 user=stockwire password=stockwire dbname=stockwire"

    /// Deliveries in flight: every batch in the pipeline plus the next one filling.
    var prefetch: UInt16 { UInt16(clamping: batchSize * (pipelineDepth + 1)) }

    /// The topology to declare: the shared one, under this configuration's names.
    var topology: [AMQPTopology] { StockwireTopology.calculator(names) }

    /// Applies environment variables over the defaults.
    static func fromEnvironment() throws -> CalculatorConfiguration {
        var c = CalculatorConfiguration()
        if let v = Environment.string("STOCKWIRE_POSTGRES") { c.postgres = v }
        if let v = try Environment.int("STOCKWIRE_CALCULATOR_BATCH_SIZE") { c.batchSize = v }
        if let v = try Environment.int("STOCKWIRE_CALCULATOR_LINGER_MS") { c.linger = .milliseconds(v) }
        if let v = try Environment.int("STOCKWIRE_CALCULATOR_PIPELINE") { c.pipelineDepth = v }
        if let v = Environment.string("STOCKWIRE_CALCULATOR_OPS_HOST") { c.opsHost = v }
        if let v = try Environment.int("STOCKWIRE_CALCULATOR_OPS_PORT") { c.opsPort = v }
        if let v = Environment.string("STOCKWIRE_CALCULATOR_QUEUE") { c.names.queue = v }
        if let v = Environment.string("STOCKWIRE_EVENTS_EXCHANGE") { c.names.eventsExchange = v }
        if let v = Environment.string("STOCKWIRE_AVAILABILITY_EXCHANGE") { c.names.availabilityExchange = v }
        if let v = Environment.string("STOCKWIRE_CATALOG_EXCHANGE") { c.names.catalogExchange = v }
        if let v = Environment.string("STOCKWIRE_DEAD_EXCHANGE") { c.names.deadExchange = v }
        if let v = Environment.string("STOCKWIRE_CALCULATOR_REQUESTS_QUEUE") { c.names.requestQueue = v }
        if let v = try Environment.int("STOCKWIRE_CALCULATOR_RELAY_INTERVAL_MS") { c.relayInterval = .milliseconds(v) }
        if let v = try Environment.int("STOCKWIRE_CALCULATOR_DEDUPE_DAYS") { c.dedupeRetentionDays = v }
        if let v = try Environment.int("STOCKWIRE_CALCULATOR_RECONCILE_INTERVAL_S") {
            c.reconcileInterval = v > 0 ? .seconds(v) : nil
        }
        c.crashAfterCommit = Environment.string("STOCKWIRE_CALCULATOR_CRASH_AFTER_COMMIT") == "1"
        if let v = try Environment.int("STOCKWIRE_CALCULATOR_GUARD_THRESHOLD") { c.guardDefaults.threshold = Int64(v) }
        if let v = Environment.string("STOCKWIRE_CALCULATOR_GUARD_SHOPS") { c.guardDefaults.shops = try Self.shopList(v) }
        if let v = try Environment.int("STOCKWIRE_CALCULATOR_GUARD_REBALANCE_S") {
            c.guardDefaults.rebalanceAfterMillis = Int64(v) * 1000
        }
        if let v = try Environment.int("STOCKWIRE_CALCULATOR_GUARD_DEMAND_HALF_LIFE_S") {
            c.guardDefaults.demandHalfLifeMillis = Int64(v) * 1000
        }
        if let v = try Environment.int("STOCKWIRE_CALCULATOR_GUARD_REVIEW_MS") { c.guardReview = .milliseconds(v) }
        return c
    }

    /// `a.myshopify.com, B.myshopify.com` → the domains, normalised as ingest normalises Shopify's header (the guard's
    /// shares are keyed by that), sorted, without blanks or repeats; an entry that is no domain is an error.
    static func shopList(_ text: String) throws -> [ShopDomain] {
        let entries = text.split(separator: ",").filter { !$0.allSatisfy(\.isWhitespace) }
        do {
            return Set(try entries.map { try ShopDomain($0) }).sorted()
        } catch {
            throw ConfigurationError("STOCKWIRE_CALCULATOR_GUARD_SHOPS / --guard-shops: \(error)")
        }
    }

    /// Checks ranges; errors name the setting.
    func validate() throws {
        guard guardDefaults.threshold >= 0 else {
            throw ConfigurationError(
                "STOCKWIRE_CALCULATOR_GUARD_THRESHOLD / --guard-threshold=\(guardDefaults.threshold) must be 0 (off) or more")
        }
        if guardDefaults.threshold > 0, guardDefaults.shops.isEmpty {
            throw ConfigurationError(
                "STOCKWIRE_CALCULATOR_GUARD_THRESHOLD is set but STOCKWIRE_CALCULATOR_GUARD_SHOPS / --guard-shops is empty: "
                    + "the guard must know every shop that sells the SKUs to give each a share")
        }
        guard guardDefaults.rebalanceAfterMillis >= 1000, guardDefaults.demandHalfLifeMillis >= 1000 else {
            throw ConfigurationError(
                "STOCKWIRE_CALCULATOR_GUARD_REBALANCE_S and STOCKWIRE_CALCULATOR_GUARD_DEMAND_HALF_LIFE_S must be at least 1")
        }
        guard guardReview >= .milliseconds(50), guardReview <= .seconds(60) else {
            throw ConfigurationError("STOCKWIRE_CALCULATOR_GUARD_REVIEW_MS must be 50…60000")
        }
        guard (1...10_000).contains(batchSize) else {
            throw ConfigurationError("STOCKWIRE_CALCULATOR_BATCH_SIZE / --batch-size=\(batchSize) must be 1…10000")
        }
        guard (1...8).contains(pipelineDepth) else {
            throw ConfigurationError("STOCKWIRE_CALCULATOR_PIPELINE / --pipeline=\(pipelineDepth) must be 1…8")
        }
        guard linger >= .zero, linger <= .seconds(10) else {
            throw ConfigurationError("STOCKWIRE_CALCULATOR_LINGER_MS / --linger-ms must be 0…10000")
        }
        guard (0...65_535).contains(opsPort) else {
            throw ConfigurationError("STOCKWIRE_CALCULATOR_OPS_PORT / --ops-port=\(opsPort) must be 0…65535")
        }
        if let reconcileInterval, reconcileInterval < .seconds(10) {
            throw ConfigurationError(
                "STOCKWIRE_CALCULATOR_RECONCILE_INTERVAL_S / --reconcile-interval-s must be at least 10 (or 0: off); "
                    + "every round reads every shop's levels")
        }
        guard dedupeRetentionDays >= 7 else {
            throw ConfigurationError(
                "STOCKWIRE_CALCULATOR_DEDUPE_DAYS=\(dedupeRetentionDays) must be at least 7 (Shopify retries for hours, "
                    + "deliveries can be a day late)")
        }
    }
}
