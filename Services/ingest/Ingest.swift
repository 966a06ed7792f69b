import ArgumentParser
import Hummingbird
import Logging
import ServiceKit

/// The `ingest` executable: Stockwire's only door. Verified Shopify webhooks and warehouse stock movements go to
/// the broker, and a 2xx answer means the broker confirmed the event.
struct Ingest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Receives Shopify webhooks and warehouse stock movements and publishes them to RabbitMQ.",
        discussion: """
            Endpoints: POST /webhooks/shopify, POST /stock-movements, GET /healthz, GET /readyz, GET /metrics.
            A 2xx answer is only given after the broker confirmed the event; otherwise 503 with Retry-After.
            Every option can also be set through the environment variable named in its help; flags win.
            Log level: STOCKWIRE_LOG_LEVEL (trace, debug, info, notice, warning, error; default info).
            """)

    @OptionGroup var options: IngestOptions

    /// Parses the command line and runs. (Calling `main()` from top-level code picks `ParsableCommand`'s synchronous
    /// overload, which cannot run an async command.)
    static func start() async {
        do {
            let command = try parse()
            try await command.run()
        } catch {
            exit(withError: error)
        }
    }

    func run() async throws {
        let logger = Observability.bootstrap(service: "ingest")
        let configuration: IngestConfiguration
        do {
            configuration = try IngestConfiguration(options: options)
        } catch let error as ConfigurationError {
            logger.critical("\(error)")
            throw ExitCode(78)  // EX_CONFIG
        }
        if configuration.shops.count == 0 {
            logger.warning("no shops configured (STOCKWIRE_SHOPS / STOCKWIRE_SHOPS_FILE): every webhook gets 401")
        }
        if configuration.movementToken == nil {
            logger.warning("no movement token file (STOCKWIRE_MOVEMENT_TOKEN_FILE): every stock movement gets 401")
        }
        let connections = try configuration.makeConnections(logger: logger)
        let app = try buildApplication(configuration: configuration, connections: connections, logger: logger)
        logger.info("ingest starting", metadata: configuration.summary)
        try await app.runService()
    }
}
