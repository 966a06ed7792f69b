import AMQP
import ArgumentParser
import Contracts
import Foundation
import Logging
import Postgres
import ServiceKit

/// The broker options of the operator commands, resolved like `calculator run`'s.
struct BrokerOptions: ParsableArguments {
    @Option(help: ArgumentHelp(stringLiteral: BrokerSettings.urlHelp)) var amqpURL: String?
    @Option(help: ArgumentHelp(stringLiteral: BrokerSettings.passwordFileHelp)) var amqpPasswordFile: String?

    var settings: BrokerSettings { BrokerSettings(url: amqpURL, passwordFile: amqpPasswordFile) }

    /// A started connection that declares nothing; errors name the setting.
    func connect(name: String, logger: Logger) async throws -> AMQPConnection {
        let connection = AMQPConnection(configuration: try settings.configuration(connectionName: name), logger: logger)
        connection.start()
        do {
            try await connection.waitUntilConnected(timeout: .seconds(10))
        } catch {
            await connection.close()
            throw ConfigurationError("broker \(settings.redactedURL): \(error)")
        }
        return connection
    }
}

extension CalculatorCommand {
    // MARK: - publish-all

    struct PublishAll: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "publish-all",
            abstract: "Re-emit the current availability of every SKU (to every shop, or to one shop's queue).",
            discussion: """
                Reads every SKU from the truth, page by page, and publishes its availability with its current \
                version and the header x-stockwire-resync: 1. An exporter writes such a message even when it has \
                written that version before (it reads the shop's level first and writes compare-and-set), but never \
                over a newer version it has written. Use it after restoring shops, after a bug fix in an exporter, \
                or to fill a new shop (--shop). Safe to run again, and while the calculator runs.
                """)

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var broker: BrokerOptions
        @Option(help: "Only this shop: publish to its queue exporter.<shop> (default exchange), not to every shop.")
        var shop: String?
        @Option(help: "Exchange for every shop (env STOCKWIRE_AVAILABILITY_EXCHANGE; default stockwire.availability).")
        var availabilityExchange: String?

        func run() async throws {
            let shop = try shop.map { try ShopDomain(option: "--shop", $0) }
            let logger = Observability.bootstrap(service: "calculator", level: .warning)
            let db = try await CalculatorApplication.connect(database.conninfo, logger: logger)
            let amqp = try await broker.connect(name: "calculator-publish-all", logger: logger)
            let target: AvailabilityRepublisher.Target =
                shop.map { .queue(StockwireTopology.exporterQueue(shop: $0.description)) }
                ?? .exchange(
                    availabilityExchange ?? Environment.string("STOCKWIRE_AVAILABILITY_EXCHANGE")
                        ?? StockwireTopology.availabilityExchange)
            let republisher = AvailabilityRepublisher(
                amqp: amqp, store: StockStore(db: db, routes: OutboxRoutes(availabilityExchange: "", catalogExchange: "")),
                logger: logger)
            do {
                let count = try await republisher.publishAll(to: target)
                print("published the availability of \(count) SKU(s) to \(target)")
                await amqp.close()
                await db.close()
            } catch {
                await amqp.close()
                await db.close()
                if let error = error as? RepublishError, error.unroutable, let shop {
                    throw ConfigurationError(
                        "no queue \(StockwireTopology.exporterQueue(shop: shop.description)): is \(shop) in an exporter's shops file?"
                    )
                }
                throw error
            }
        }
    }

    // MARK: - explain

    struct Explain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Why a SKU has its number: the truth, open order lines, and the last versions with their causes.",
            discussion: """
                Each version lists the events that produced it (message id, shop, when ingest received it), the \
                units each shop's own orders took, and how long after the first cause it was committed. The same \
                as JSON: GET /explain/<sku> on the calculator's ops server. History is kept as long as dedupe ids \
                (STOCKWIRE_CALCULATOR_DEDUPE_DAYS). Per shop it shows the last value an exporter wrote, its version, \
                when, and how long after the first cause (from the exporters' write reports on stockwire.writes; \
                best effort, so a lost report shows an older write).
                """)

        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The SKU.") var sku: String
        @Option(help: "How many versions to show (1–200).") var limit = 10
        @Flag(help: "Print JSON (as the HTTP endpoint serves it).") var json = false

        func validate() throws {
            guard (1...200).contains(limit) else { throw ValidationError("--limit must be 1…200") }
        }

        func run() async throws {
            let logger = Observability.bootstrap(service: "calculator", level: .warning)
            let db = try await CalculatorApplication.connect(database.conninfo, logger: logger)
            var store = StockStore(db: db, routes: OutboxRoutes(availabilityExchange: "", catalogExchange: ""))
            // The default guard threshold, as the running calculator has it from the same environment.
            store.guardDefaults = (try? CalculatorConfiguration.fromEnvironment().guardDefaults) ?? .init()
            let explanation = try await store.explain(sku: sku, limit: limit)
            await db.close()
            guard let explanation else {
                FileHandle.standardError.write(Data("error: unknown SKU '\(sku)'\n".utf8))
                throw ExitCode(2)
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
                print(String(decoding: try encoder.encode(explanation), as: UTF8.self))
            } else {
                print(explanation.rendered(), terminator: "")
            }
        }
    }

    // MARK: - replay

    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-apply events from the event log stream to the truth (dedupe makes it safe).",
            discussion: """
                Reads stockwire.events.log from --from and applies every event through the same transaction as \
                `calculator run`: an event already applied is a duplicate and changes nothing, so replaying too \
                much is harmless; replaying too little is not, so when in doubt start earlier. Stops once nothing \
                arrived for --idle-seconds (caught up) or after --until-offset, and prints what it did, with the last \
                offset to continue from. The stream keeps events as long as its retention allows (declared by \
                ingest: 7 days, 20 GB).

                What it publishes (--publish): by default nothing while it runs, then, once it has caught up, each \
                SKU it changed once, at its value then — never the values of the past it passes through on the way, \
                which running exporters would write and shops would show. A replay stopped before its end \
                published nothing of what it applied: run `calculator publish-all`. `as-it-goes` publishes after \
                every batch (only for a database that is already current); `none` leaves it to the operator.

                Rebuild (an empty database, from the whole stream while retention still covers it): \
                `calculator replay --postgres <new database> --from first --batch-size 1`. One event per \
                transaction makes every SKU's version end at or above the one shops have already seen (versions \
                count committed changes; a batch folds several events into one), so exporters keep accepting new \
                values; then run `calculator publish-all` so every shop gets the rebuilt truth.

                --from: first | <offset> | <ISO 8601 time, e.g. 2025-11-28T09:00:00Z>
                """)

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var broker: BrokerOptions
        @Option(help: "Where to start: first, a stream offset, or an ISO 8601 time.") var from: String
        @Option(help: "Stop after this offset (inclusive).") var untilOffset: Int64?
        @Option(help: "The stream to read.") var stream = StockwireTopology.eventsLog
        @Option(help: "Events per transaction (1–10000).") var batchSize = 500
        @Option(help: "Stop when nothing arrived for this many seconds.") var idleSeconds = 3
        @Option(help: "What to publish: end (each changed SKU once, when caught up), as-it-goes, or none.")
        var publish = StreamReplay.Publishing.end
        @Option(help: "Exchange for availability messages (env STOCKWIRE_AVAILABILITY_EXCHANGE; default stockwire.availability).")
        var availabilityExchange: String?
        @Option(help: "Exchange for catalog messages (env STOCKWIRE_CATALOG_EXCHANGE; default stockwire.catalog).")
        var catalogExchange: String?

        func validate() throws {
            guard StreamReplay.Start(from) != nil else {
                throw ValidationError("--from '\(from)' is not 'first', an offset or an ISO 8601 time (2025-11-28T09:00:00Z)")
            }
            guard (1...10_000).contains(batchSize) else { throw ValidationError("--batch-size must be 1…10000") }
            guard idleSeconds >= 1 else { throw ValidationError("--idle-seconds must be at least 1") }
        }

        func run() async throws {
            let logger = Observability.bootstrap(service: "calculator", level: .warning)
            var configuration = try CalculatorConfiguration.fromEnvironment()
            configuration.postgres = database.conninfo
            configuration.broker = broker.settings
            if let availabilityExchange { configuration.names.availabilityExchange = availabilityExchange }
            if let catalogExchange { configuration.names.catalogExchange = catalogExchange }
            let report = try await Self.replay(
                configuration: configuration, stream: stream, from: StreamReplay.Start(from)!, until: untilOffset,
                batchSize: batchSize, idle: .seconds(idleSeconds), publishing: publish, logger: logger)
            print(report.summary)
            if publish == .none, !report.changedSkus.isEmpty {
                print("next: `calculator publish-all` so every shop gets the replayed truth")
            }
        }

        /// Connects (migrating the database), replays, closes.
        static func replay(
            configuration: CalculatorConfiguration, stream: String, from: StreamReplay.Start, until: Int64?,
            batchSize: Int, idle: Duration, publishing: StreamReplay.Publishing = .end, logger: Logger
        ) async throws -> StreamReplay.Report {
            let db = try await CalculatorApplication.connect(configuration.postgres, logger: logger)
            try await Migrator.migrate(db, CalculatorSchema.migrations, logger: logger)
            let amqp = AMQPConnection(
                configuration: try configuration.broker.configuration(connectionName: "calculator-replay"), logger: logger)
            amqp.start()
            let routes = OutboxRoutes(
                availabilityExchange: configuration.names.availabilityExchange,
                catalogExchange: configuration.names.catalogExchange)
            let store = StockStore(db: db, routes: routes)
            let metrics = CalculatorMetrics()
            let processor = BatchProcessor(
                configuration: configuration, amqp: amqp, store: store,
                relay: OutboxRelay(amqp: amqp, store: store, metrics: metrics, logger: logger), metrics: metrics,
                logger: logger)
            do {
                try await amqp.waitUntilConnected(timeout: .seconds(10))
                var replay = StreamReplay(stream: stream, processor: processor)
                replay.batchSize = batchSize
                replay.idleTimeout = idle
                replay.untilOffset = until
                replay.publishing = publishing
                replay.availabilityExchange = configuration.names.availabilityExchange
                let report = try await replay.run(from: from, logger: logger)
                await amqp.close()
                await db.close()
                return report
            } catch {
                await amqp.close()
                await db.close()
                throw error
            }
        }
    }
}

// MARK: - guard

extension CalculatorCommand {
    struct Guard: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set one SKU's zero-oversell guard threshold (or go back to the default).",
            discussion: """
                At or below its threshold a SKU's shops no longer all show the available quantity: each gets a \
                share, and the shares never add up to more than the truth, so no two shops can sell the same last \
                unit. A running calculator applies the new threshold with the SKU's next change. \
                `calculator explain <sku>` shows the shares and why.
                """)
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The SKU.") var sku: String
        @Option(help: "Guard at or below this available quantity; 0 = never guard this SKU.") var threshold: Int?
        @Flag(help: "Use the default threshold (STOCKWIRE_CALCULATOR_GUARD_THRESHOLD) again.") var useDefault = false

        func validate() throws {
            guard (threshold != nil) != useDefault else { throw ValidationError("give either --threshold N or --use-default") }
            if let threshold, threshold < 0 { throw ValidationError("--threshold must be 0 or more") }
        }

        func run() async throws {
            let logger = Observability.bootstrap(service: "calculator", level: .warning)
            let db = try await CalculatorApplication.connect(database.conninfo, logger: logger)
            let store = StockStore(db: db, routes: OutboxRoutes(availabilityExchange: "", catalogExchange: ""))
            let known = try await store.setGuardThreshold(sku: sku, threshold: useDefault ? nil : threshold.map(Int64.init))
            await db.close()
            guard known else {
                FileHandle.standardError.write(Data("error: unknown SKU '\(sku)'\n".utf8))
                throw ExitCode(2)
            }
            print(useDefault ? "\(sku): guard threshold is the default again" : "\(sku): guard threshold \(threshold!)")
        }
    }
}

extension CalculatorCommand {
    // MARK: - availability

    struct Availability: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print what every SKU should show: its available, or one shop's target (its share under the guard).",
            discussion: """
                Reads the truth page by page; writes nothing. With --shop, each SKU's number is what the exporter \
                writes into that shop (the available, or the shop's share when the zero-oversell guard is active for \
                the SKU). --json prints {"shop": …, "skus": {"<sku>": <number>}}, the --truth input of \
                exporter check-shop:
                  calculator availability --shop acme.myshopify.com --json > truth.json
                """)
        @OptionGroup var database: DatabaseOptions
        @Option(help: "The shop whose targets to print (its share of a guarded SKU); default: every SKU's available.")
        var shop: String?
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let shop = try shop.map { try ShopDomain(option: "--shop", $0) }
            let logger = Observability.bootstrap(service: "calculator", level: .warning)
            let db = try await CalculatorApplication.connect(database.conninfo, logger: logger)
            defer { Task { await db.close() } }
            let store = StockStore(db: db, routes: OutboxRoutes(availabilityExchange: "", catalogExchange: ""))
            let targets = try await Self.targets(store: store, shop: shop)
            if json {
                struct Output: Encodable {
                    var shop: ShopDomain?
                    var skus: [String: Int64]
                }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                let output = Output(shop: shop, skus: Dictionary(targets, uniquingKeysWith: { a, _ in a }))
                print(String(decoding: try encoder.encode(output), as: UTF8.self))
            } else {
                for (sku, target) in targets { print("\(sku)\t\(target)") }
            }
        }

        /// Every SKU's available, or (with `shop`) what the exporter writes into that shop: the shop's share of a
        /// guarded SKU, the available otherwise. In SKU order.
        static func targets(store: StockStore, shop: ShopDomain?, pageSize: Int = 1_000) async throws -> [(String, Int64)] {
            var targets: [(String, Int64)] = []
            var after = ""
            while true {
                let page = try await store.skus(after: after, limit: pageSize)
                guard let last = page.last else { break }
                let guarded = shop == nil ? [:] : try await store.guardShares(of: page.map(\.sku))
                for (sku, stock) in page {
                    let target =
                        shop.map {
                            AvailabilityMessage.target(
                                available: stock.available, shares: guarded[sku]?.shares.byDomainText, shop: $0.description)
                        }
                        ?? stock.available
                    targets.append((sku, target))
                }
                after = last.sku
            }
            return targets
        }
    }
}
