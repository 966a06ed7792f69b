import AMQP
import ArgumentParser
import AsyncHTTPClient
import Contracts
import Foundation
import Logging
import ServiceKit
import ServiceLifecycle

/// The exporter: one queue per shop on `stockwire.availability`, written to that shop's Admin API.
@main
struct Exporter: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exporter",
        abstract: "Pushes every SKU's available quantity to each connected Shopify shop.",
        discussion: """
            For every shop in the shops file it declares the quorum queue exporter.<shop> (single active \
            consumer, so several exporter instances can run: one writes a shop, the others stand by and take \
            over when it dies), coalesces the backlog per SKU (newest version wins), and writes batches of up \
            to 250 quantities with inventorySetQuantities, compare-and-set through changeFromQuantity so that \
            a unit a shop sold but Stockwire has not seen yet is never given back. It follows each shop's cost \
            bucket from throttleStatus, honours Retry-After, retries 5xx and timeouts with backoff while the \
            backlog waits in the broker, pauses a shop whose token is refused, and dead-letters what a shop \
            refuses for good (dead.exporter.<shop>).

            Shops file (JSON array): [{"domain": "acme.myshopify.com", "token_file": "/run/secrets/acme-token", \
            "admin_url": "https://acme.myshopify.com", "location_id": "gid://shopify/Location/1", \
            "api_version": "2026-10"}] — admin_url, location_id and api_version are optional.
            """,
        subcommands: [Run.self, DeadLetters.self, Resync.self, CheckShop.self], defaultSubcommand: Run.self)

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run the exporter until SIGTERM or SIGINT.")

        @Option(help: ArgumentHelp(BrokerSettings.urlHelp))
        var amqpURL: String?

        @Option(help: ArgumentHelp(BrokerSettings.passwordFileHelp))
        var amqpPasswordFile: String?

        @Option(help: "Shops file, see above (env STOCKWIRE_EXPORTER_SHOPS_FILE; required).")
        var shopsFile: String?

        @Option(help: "Address of the operations HTTP server (env STOCKWIRE_EXPORTER_OPS_HOST; default 127.0.0.1).")
        var opsHost: String?

        @Option(
            help:
                "Port of the operations HTTP server: /healthz, /readyz, /metrics (env STOCKWIRE_EXPORTER_OPS_PORT; default 9103)."
        )
        var opsPort: Int?

        @Option(
            help:
                "Unacknowledged messages held per shop; the broker keeps the rest (env STOCKWIRE_EXPORTER_PREFETCH; default 2000)."
        )
        var prefetch: Int?

        @Option(help: "Milliseconds to wait for more changes before a write (env STOCKWIRE_EXPORTER_LINGER_MS; default 5).")
        var lingerMs: Int?

        @Option(
            help: "Seconds between retries while a shop's token is refused (env STOCKWIRE_EXPORTER_PAUSE_RETRY_S; default 30).")
        var pauseRetrySeconds: Int?

        @Option(
            help: """
                Milliseconds a SKU must be quiet after a write before its levels are read back and corrected where \
                the shop differs; 0 turns the read-back off (env STOCKWIRE_EXPORTER_VERIFY_AFTER_MS; default 2000).
                """)
        var verifyAfterMs: Int?

        @Option(
            help: """
                Milliseconds the writes of SKUs without the zero-oversell guard are gathered into one report to the \
                calculator (calculator explain); guarded writes are reported at once \
                (env STOCKWIRE_EXPORTER_REPORT_INTERVAL_MS; default 1000).
                """)
        var reportIntervalMs: Int?

        func run() async throws {
            let logger = Observability.bootstrap(service: "exporter")
            let broker = BrokerSettings(url: amqpURL, passwordFile: amqpPasswordFile)
            guard let file = shopsFile ?? Environment.string("STOCKWIRE_EXPORTER_SHOPS_FILE") else {
                throw ConfigurationError("no shops file: pass --shops-file or set STOCKWIRE_EXPORTER_SHOPS_FILE (see --help)")
            }
            let shops = try ShopSettings.load(file: file)
            var tuning = ShopWriter.Tuning()
            if let v = try prefetch ?? Environment.int("STOCKWIRE_EXPORTER_PREFETCH") { tuning.prefetch = UInt16(clamping: v) }
            if let v = try lingerMs ?? Environment.int("STOCKWIRE_EXPORTER_LINGER_MS") { tuning.linger = .milliseconds(v) }
            if let v = try pauseRetrySeconds ?? Environment.int("STOCKWIRE_EXPORTER_PAUSE_RETRY_S") {
                tuning.pauseRetry = .seconds(v)
            }
            if let v = try verifyAfterMs ?? Environment.int("STOCKWIRE_EXPORTER_VERIFY_AFTER_MS") {
                guard v >= 0 else { throw ConfigurationError("STOCKWIRE_EXPORTER_VERIFY_AFTER_MS must be ≥ 0 (0: no read-back)") }
                tuning.verifyAfter = .milliseconds(v)
            }
            if let v = try reportIntervalMs ?? Environment.int("STOCKWIRE_EXPORTER_REPORT_INTERVAL_MS") {
                guard v > 0 else { throw ConfigurationError("STOCKWIRE_EXPORTER_REPORT_INTERVAL_MS must be > 0") }
                tuning.reportInterval = .milliseconds(v)
            }
            let connection = AMQPConnection(
                configuration: try broker.configuration(connectionName: "exporter"),
                topology: StockwireTopology.exporter(shops: shops.map(\.domain.description)), logger: logger)
            let app = ExporterApplication(shops: shops, connection: connection, tuning: tuning, logger: logger)
            let ops = OpsServer.application(
                host: opsHost ?? Environment.string("STOCKWIRE_EXPORTER_OPS_HOST") ?? "127.0.0.1",
                port: try opsPort ?? Environment.int("STOCKWIRE_EXPORTER_OPS_PORT") ?? 9103, logger: logger
            ) { await app.readiness() }
            logger.info(
                "exporter starting",
                metadata: [
                    "shops": "\(shops.map(\.domain.description).joined(separator: ","))", "broker": "\(broker.redactedURL)",
                ])
            for shop in shops {
                if let warning = ShopifyAPIVersion(shop.apiVersion)?.supportWarning(shop: shop.domain.description, now: Date()) {
                    logger.warning("\(warning)")
                }
            }
            let group = ServiceGroup(
                configuration: .init(
                    services: [.init(service: BrokerService(connection: connection)), .init(service: app), .init(service: ops)],
                    gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
            logger.info("exporter stopped")
        }
    }
}
