import ArgumentParser
import Contracts
import Foundation
import Logging
import Postgres
import ServiceKit

/// `calculator`: the owner of the stock truth.
struct CalculatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calculator",
        abstract: "Stockwire calculator: exact stock truth in PostgreSQL, per-SKU availability out.",
        subcommands: [
            Run.self, Migrate.self, Stock.self, Warehouse.self, Explain.self, PublishAll.self, Replay.self,
            SnapshotCommand.self, Rebuild.self, DeadLetters.self, Guard.self, Availability.self, Rehearse.self,
        ])
}

/// Options every subcommand shares.
struct DatabaseOptions: ParsableArguments {
    @Option(
        name: .customLong("postgres"),
        help:
            "libpq conninfo of the stock truth (env STOCKWIRE_POSTGRES; default \"\(CalculatorConfiguration.defaultPostgres)\").")
    var postgres: String?

    var conninfo: String { postgres ?? Environment.string("STOCKWIRE_POSTGRES") ?? CalculatorConfiguration.defaultPostgres }
}

extension CalculatorCommand {
    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Consume events, apply them exactly once, publish availability. Stops on SIGTERM/SIGINT.")

        @OptionGroup var database: DatabaseOptions
        @Option(help: ArgumentHelp(stringLiteral: BrokerSettings.urlHelp)) var amqpURL: String?
        @Option(help: ArgumentHelp(stringLiteral: BrokerSettings.passwordFileHelp)) var amqpPasswordFile: String?
        @Option(help: "Most events per transaction (env STOCKWIRE_CALCULATOR_BATCH_SIZE; default 1000).")
        var batchSize: Int?
        @Option(
            help: "Longest wait in ms for a batch to fill after its first event (env STOCKWIRE_CALCULATOR_LINGER_MS; default 5).")
        var lingerMs: Int?
        @Option(
            help:
                "Batches in flight: the next batch's transaction runs while the previous one is published and acknowledged; 1 = one at a time (env STOCKWIRE_CALCULATOR_PIPELINE; default 2)."
        )
        var pipeline: Int?
        @Option(help: "Ops server address for /healthz, /readyz, /metrics (env STOCKWIRE_CALCULATOR_OPS_HOST; default 0.0.0.0).")
        var opsHost: String?
        @Option(help: "Ops server port (env STOCKWIRE_CALCULATOR_OPS_PORT; default 9102).")
        var opsPort: Int?
        @Option(help: "Queue to consume (env STOCKWIRE_CALCULATOR_QUEUE; default calculator.events).")
        var queue: String?
        @Option(help: "Exchange the queue is bound to (env STOCKWIRE_EVENTS_EXCHANGE; default stockwire.events).")
        var eventsExchange: String?
        @Option(help: "Exchange for availability messages (env STOCKWIRE_AVAILABILITY_EXCHANGE; default stockwire.availability).")
        var availabilityExchange: String?
        @Option(help: "Exchange for a shop's SKU/variant map (env STOCKWIRE_CATALOG_EXCHANGE; default stockwire.catalog).")
        var catalogExchange: String?
        @Option(
            help:
                "Queue of operator requests such as `exporter resync <shop>` (env STOCKWIRE_CALCULATOR_REQUESTS_QUEUE; default calculator.requests)."
        )
        var requestsQueue: String?
        @Option(
            help:
                "Dead-letter exchange for events that cannot be understood (env STOCKWIRE_DEAD_EXCHANGE; default stockwire.dead)."
        )
        var deadExchange: String?
        @Option(help: "Interval in ms of the outbox relay's sweep (env STOCKWIRE_CALCULATOR_RELAY_INTERVAL_MS; default 2000).")
        var relayIntervalMs: Int?
        @Option(
            help:
                "Days message ids are kept for dedupe, at least 7 (env STOCKWIRE_CALCULATOR_DEDUPE_DAYS; default 7). Logging: STOCKWIRE_LOG_LEVEL."
        )
        var dedupeDays: Int?
        @Option(
            help:
                "Seconds between reconciliation rounds: every shop re-reads its levels and drift is repaired; 0 = off (env STOCKWIRE_CALCULATOR_RECONCILE_INTERVAL_S; default 3600)."
        )
        var reconcileIntervalS: Int?
        @Option(
            help:
                "Zero-oversell guard: at or below this available quantity a SKU's shops get shares that never add up to more than the truth; 0 = off (env STOCKWIRE_CALCULATOR_GUARD_THRESHOLD; default 0). One SKU: `calculator guard <sku> --threshold N`."
        )
        var guardThreshold: Int?
        @Option(
            help:
                "Shops the guard gives shares to, comma-separated domains (env STOCKWIRE_CALCULATOR_GUARD_SHOPS). Also: STOCKWIRE_CALCULATOR_GUARD_REBALANCE_S (idle seconds before a shop's surplus moves, default 10), STOCKWIRE_CALCULATOR_GUARD_DEMAND_HALF_LIFE_S (default 60)."
        )
        var guardShops: String?

        func resolved() throws -> CalculatorConfiguration {
            var c = try CalculatorConfiguration.fromEnvironment()
            c.postgres = database.conninfo
            c.broker = BrokerSettings(url: amqpURL, passwordFile: amqpPasswordFile)
            if let batchSize { c.batchSize = batchSize }
            if let lingerMs { c.linger = .milliseconds(lingerMs) }
            if let pipeline { c.pipelineDepth = pipeline }
            if let opsHost { c.opsHost = opsHost }
            if let opsPort { c.opsPort = opsPort }
            if let queue { c.names.queue = queue }
            if let eventsExchange { c.names.eventsExchange = eventsExchange }
            if let availabilityExchange { c.names.availabilityExchange = availabilityExchange }
            if let catalogExchange { c.names.catalogExchange = catalogExchange }
            if let deadExchange { c.names.deadExchange = deadExchange }
            if let requestsQueue { c.names.requestQueue = requestsQueue }
            if let relayIntervalMs { c.relayInterval = .milliseconds(relayIntervalMs) }
            if let reconcileIntervalS { c.reconcileInterval = reconcileIntervalS > 0 ? .seconds(reconcileIntervalS) : nil }
            if let dedupeDays { c.dedupeRetentionDays = dedupeDays }
            if let guardThreshold { c.guardDefaults.threshold = Int64(guardThreshold) }
            if let guardShops { c.guardDefaults.shops = try CalculatorConfiguration.shopList(guardShops) }
            return c
        }

        func run() async throws {
            let logger = Observability.bootstrap(service: "calculator")
            let configuration = try resolved()
            let group = try await CalculatorApplication.buildServiceGroup(configuration: configuration, logger: logger)
            logger.info(
                "calculator starting",
                metadata: [
                    "queue": "\(configuration.names.queue)", "batch_size": "\(configuration.batchSize)",
                    "linger": "\(configuration.linger)", "pipeline": "\(configuration.pipelineDepth)",
                    "ops_port": "\(configuration.opsPort)",
                ])
            try await group.run()
        }
    }

    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create or upgrade the calculator's tables.")
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let logger = Observability.bootstrap(service: "calculator")
            let db = try await CalculatorApplication.connect(database.conninfo, logger: logger)
            let applied = try await Migrator.migrate(db, CalculatorSchema.migrations, logger: logger)
            print(
                applied.isEmpty
                    ? "schema is up to date" : "applied: \(applied.map { "\($0.version) \($0.name)" }.joined(separator: ", "))")
            await db.close()
        }
    }

    struct Stock: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a SKU's truth and its last causes.")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The SKU.") var sku: String

        func run() async throws {
            let logger = Observability.bootstrap(service: "calculator", level: .warning)
            let db = try await CalculatorApplication.connect(database.conninfo, logger: logger)
            defer { Task { await db.close() } }
            let store = StockStore(db: db, routes: OutboxRoutes(availabilityExchange: "", catalogExchange: ""))
            guard let (stock, causes, levels) = try await store.stock(sku: sku) else {
                print("unknown SKU '\(sku)'")
                throw ExitCode(1)
            }
            print("sku:          \(sku)")
            print("available:    \(stock.available)")
            print("on_hand:      \(stock.onHand)  (warehouses for sale)")
            print("reserved:     \(stock.reserved)")
            print("safety_stock: \(stock.safetyStock)")
            print("version:      \(stock.version)")
            for (warehouse, onHand, forSale) in levels {
                print("  warehouse \(warehouse): \(onHand)\(forSale ? "" : "  (not for sale)")")
            }
            print("last causes:  \(causes.isEmpty ? "-" : causes.joined(separator: ", "))")
        }
    }

    struct Warehouse: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a warehouse (or show it). Changing the for-sale flag of a stocked warehouse is not supported yet.")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "Warehouse name as movements give it.") var name: String
        @Flag(inversion: .prefixedNo, help: "Whether its stock counts toward availability.") var forSale = true

        func run() async throws {
            let logger = Observability.bootstrap(service: "calculator", level: .warning)
            let db = try await CalculatorApplication.connect(database.conninfo, logger: logger)
            let existing = try await db.query("SELECT for_sale FROM warehouses WHERE name = $1", [name])
            if let row = existing.first {
                let current = try row.decode(Bool.self, at: 0)
                print("warehouse \(name) exists, for sale: \(current)")
                if current != forSale { print("changing the flag is not supported yet"); throw ExitCode(1) }
            } else {
                try await db.query("INSERT INTO warehouses (name, for_sale) VALUES ($1, $2)", [name, forSale])
                print("warehouse \(name) added, for sale: \(forSale)")
            }
            await db.close()
        }
    }
}
