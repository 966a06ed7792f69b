import AMQP
import Hummingbird
import Logging
import Postgres
import ServiceKit
import ServiceLifecycle

/// Builds the calculator's services; `calculator run` and tests call it without `main`.
enum CalculatorApplication {
    /// What `buildServices` returns: the services to run and handles tests need.
    struct Parts: Sendable {
        var broker: BrokerService
        var processor: BatchProcessor
        /// Answers operator requests (resync of a shop).
        var requests: RequestConsumer
        /// Keeps exporters' write reports for explain.
        var writes: WriteReportConsumer
        /// Re-balances SKUs under the zero-oversell guard.
        var guardReview: GuardReview
        var database: PostgresConnection
        var relayDatabase: PostgresConnection
    }

    /// Connects to PostgreSQL (applying migrations), prepares the broker connection and the batch processor.
    static func buildParts(configuration: CalculatorConfiguration, logger: Logger) async throws -> Parts {
        try configuration.validate()
        let database = try await connect(configuration.postgres, logger: logger)
        try await Migrator.migrate(database, CalculatorSchema.migrations, logger: logger)
        let relayDatabase = try await connect(configuration.postgres, logger: logger)
        let amqp = AMQPConnection(
            configuration: try configuration.broker.configuration(connectionName: "calculator"),
            topology: configuration.topology, logger: logger)
        let routes = OutboxRoutes(
            availabilityExchange: configuration.names.availabilityExchange, catalogExchange: configuration.names.catalogExchange)
        var guarded = StockStore(db: database, routes: routes)
        guarded.guardDefaults = configuration.guardDefaults
        var guardedRelay = StockStore(db: relayDatabase, routes: routes)
        guardedRelay.guardDefaults = configuration.guardDefaults
        let metrics = CalculatorMetrics()
        let relay = OutboxRelay(
            amqp: amqp, store: StockStore(db: relayDatabase, routes: routes), metrics: metrics, logger: logger)
        let processor = BatchProcessor(
            configuration: configuration, amqp: amqp, store: guarded, relay: relay,
            metrics: metrics, logger: logger)
        let requests = RequestConsumer(
            queue: configuration.names.requestQueue, amqp: amqp,
            republisher: AvailabilityRepublisher(
                amqp: amqp, store: StockStore(db: relayDatabase, routes: routes), logger: logger),
            logger: logger)
        let writes = WriteReportConsumer(
            queue: configuration.names.writesQueue, amqp: amqp, store: guardedRelay, relay: relay, logger: logger)
        return Parts(
            broker: BrokerService(connection: amqp), processor: processor, requests: requests, writes: writes,
            guardReview: GuardReview(interval: configuration.guardReview, store: guardedRelay, relay: relay, logger: logger),
            database: database, relayDatabase: relayDatabase)
    }

    /// The whole service group of `calculator run`: broker connection, batch processor, ops server.
    static func buildServiceGroup(configuration: CalculatorConfiguration, logger: Logger) async throws -> ServiceGroup {
        let parts = try await buildParts(configuration: configuration, logger: logger)
        let amqp = parts.broker.connection
        let database = parts.database
        var reads = StockStore(db: parts.relayDatabase, routes: OutboxRoutes(availabilityExchange: "", catalogExchange: ""))
        reads.guardDefaults = configuration.guardDefaults
        let ops = OpsServer.application(
            host: configuration.opsHost, port: configuration.opsPort, logger: logger,
            routes: { ExplainEndpoint.addRoutes(to: $0, store: reads) }
        ) {
            if let reason = BrokerService.readiness(of: amqp) { return reason }
            // Never waits behind the batch statements: during a network cut one of them hangs until tcp_user_timeout.
            if let reason = database.unreadiness(stallAfter: .seconds(5)) { return reason }
            return nil
        }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: parts.broker),
            .init(
                service: parts.processor, successTerminationBehavior: .gracefullyShutdownGroup,
                failureTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: parts.requests),
            .init(service: parts.writes),
            .init(service: parts.guardReview),
            .init(service: ops),
        ]
        if let interval = configuration.reconcileInterval {
            services.append(
                .init(
                    service: Reconciliation(
                        interval: interval, republisher: parts.requests.republisher,
                        availabilityExchange: configuration.names.availabilityExchange, db: parts.relayDatabase, logger: logger)))
        }
        return ServiceGroup(
            configuration: .init(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    }

    static func connect(_ conninfo: String, logger: Logger) async throws -> PostgresConnection {
        do {
            return try await PostgresConnection.connect(conninfo, logger: logger)
        } catch {
            throw ConfigurationError("STOCKWIRE_POSTGRES / --postgres: cannot connect: \(error)")
        }
    }
}
