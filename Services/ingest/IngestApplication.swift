import AMQP
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceKit

/// Builds the ingest HTTP application around unstarted broker connections; the application's service group starts
/// them, and on shutdown stops taking requests, lets requests in flight finish, then closes the connections.
///
/// Tests call this with their own configuration and connections; `main` calls it with the resolved configuration.
func buildApplication(
    configuration: IngestConfiguration, connections: [AMQPConnection], logger: Logger
) throws -> some ApplicationProtocol {
    let metrics = IngestMetrics()
    let publisher = EventPublisher(
        connections: connections, exchange: configuration.eventsExchange,
        confirmTimeout: configuration.confirmTimeout, metrics: metrics)
    let budget = configuration.bodyBudget ?? BodyBudget(limit: configuration.maxBodyBytesInFlight)
    let shopify = WebhookController(
        platform: ShopifyWebhooks(), shops: configuration.shops, maxBodyBytes: configuration.maxBodyBytes,
        readTimeout: configuration.readTimeout, budget: budget, publisher: publisher)
    let responder = IngestResponder(
        movements: StockMovementController(
            token: configuration.movementToken, maxBodyBytes: configuration.maxBodyBytes,
            readTimeout: configuration.readTimeout, budget: budget, publisher: publisher),
        metrics: metrics, retryAfterSeconds: configuration.retryAfterSeconds)

    let router = Router(context: IngestRequestContext.self)
    OpsServer.addRoutes(to: router, readiness: { publisher.unavailableReason })
    router.post("/webhooks/shopify") { request, context in
        await responder.webhook(request, context: context, controller: shopify)
    }
    router.post("/stock-movements") { request, context in await responder.movements(request, context: context) }
    for path in ["/webhooks/shopify", "/stock-movements"] {
        for method in [HTTPRequest.Method.get, .put, .patch, .delete, .head, .options] {
            router.on(RouterPath(path), method: method) { _, _ in
                Response(status: .methodNotAllowed, headers: [.allow: "POST"])
            }
        }
    }

    return Application(
        router: router,
        server: .http1(configuration: .init(idleTimeout: .nanoseconds(configuration.idleTimeout.nanoseconds))),
        configuration: .init(
            address: .hostname(configuration.host, port: configuration.port), serverName: "stockwire-ingest",
            backlog: 1024,
            availableConnectionsDelegate: MaximumAvailableConnections(configuration.maxConnections, logger: logger)),
        services: connections.map { BrokerService(connection: $0) },
        logger: logger)
}

/// Convenience for a single broker connection.
func buildApplication(
    configuration: IngestConfiguration, connection: AMQPConnection, logger: Logger
) throws -> some ApplicationProtocol {
    try buildApplication(configuration: configuration, connections: [connection], logger: logger)
}

/// Turns the controllers' outcomes into responses, metrics and log lines.
///
/// Webhooks are answered the same way whatever the platform: each route passes its platform's controller.
struct IngestResponder: Sendable {
    let movements: StockMovementController
    let metrics: IngestMetrics
    let retryAfterSeconds: Int

    func webhook<Platform>(
        _ request: Request, context: IngestRequestContext, controller: WebhookController<Platform>
    ) async -> Response {
        let start = ContinuousClock.now
        var outcome = WebhookOutcome()
        do throws(IngestRejection) {
            try await controller.handle(request, outcome: &outcome)
        } catch {
            return refuse(
                error, endpoint: "webhook", topic: outcome.topic, metadata: outcome.metadata, start: start,
                context: context)
        }
        metrics.request(endpoint: "webhook", status: 200, topic: outcome.topic, duration: .now - start)
        context.logger.debug("webhook accepted", metadata: outcome.metadata)
        return Response(status: .ok)
    }

    func movements(_ request: Request, context: IngestRequestContext) async -> Response {
        let start = ContinuousClock.now
        var outcome = StockMovementController.Outcome()
        do throws(IngestRejection) {
            try await movements.handle(request, outcome: &outcome)
        } catch {
            return refuse(
                error, endpoint: "movements", topic: outcome.topic, metadata: outcome.metadata, start: start,
                context: context)
        }
        metrics.request(endpoint: "movements", status: 202, topic: outcome.topic, duration: .now - start)
        context.logger.info("stock movements accepted", metadata: outcome.metadata)
        return Self.json(.accepted, "{\"accepted\":\(outcome.accepted)}")
    }

    private func refuse(
        _ rejection: IngestRejection, endpoint: String, topic: String, metadata: Logger.Metadata,
        start: ContinuousClock.Instant, context: IngestRequestContext
    ) -> Response {
        metrics.reject(reason: rejection.reason)
        metrics.request(endpoint: endpoint, status: rejection.status.code, topic: topic, duration: .now - start)
        var metadata = metadata
        metadata["endpoint"] = "\(endpoint)"
        metadata["status"] = "\(rejection.status.code)"
        metadata["reason"] = "\(rejection.reason)"
        if rejection.status == .serviceUnavailable {
            context.logger.warning("event not stored; the sender will retry", metadata: metadata)
        } else {
            context.logger.notice("request refused", metadata: metadata)
        }
        var response = Self.json(rejection.status, "{\"error\":\(Self.jsonString(rejection.message))}")
        if rejection.status == .serviceUnavailable { response.headers[.retryAfter] = String(retryAfterSeconds) }
        if rejection.closeConnection {
            response.headers[.connection] = "close"
            context.closeConnectionAfterResponse()
        }
        return response
    }

    static func json(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// A JSON string literal of `text`.
    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
