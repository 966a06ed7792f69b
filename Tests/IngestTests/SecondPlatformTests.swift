import AMQP
import Contracts
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ServiceKit
import Signing
import StockwireTestSupport
import Testing

@testable import ingest

// MARK: - A second platform (tests only)

/// A made-up marketplace, the example of a second ``WebhookPlatform``: the shop in `X-Market-Shop`, a lower-case hex
/// HMAC-SHA256 of the raw body in `X-Market-Signature`, the topic in `X-Market-Topic` and the delivery's id in
/// `X-Market-Delivery`.
///
/// It says only what a platform must say. Sizes, media types, the shops and their secrets, the body's limits and when
/// to publish are ``WebhookController``'s; ``SecondPlatformIntegrationTests`` checks that they are done for it.
struct MarketWebhooks: WebhookPlatform {
    /// `EventEnvelope.Source` is a closed enum (`shopify`, `warehouse`) and a test does not widen the wire contract:
    /// the marketplace's events travel as `.shopify`, which only decides the first word of the routing key and the
    /// form of the message id (`<shop>/<delivery id>`). A real second platform adds its own case and a decoder in the
    /// calculator.
    var source: EventEnvelope.Source { .shopify }

    struct Headers: Sendable {
        var shop: String?
        var signature: String?
        var topic: String?
        var delivery: String?
    }

    func headers(_ fields: HTTPFields) -> Headers {
        func value(_ name: String) -> String? {
            guard let value = fields[HTTPField.Name(name)!], !value.isEmpty else { return nil }
            return value
        }
        return Headers(
            shop: value("X-Market-Shop"), signature: value("X-Market-Signature"), topic: value("X-Market-Topic"),
            delivery: value("X-Market-Delivery"))
    }

    func shop(in headers: Headers) throws(IngestRejection) -> String {
        guard let shop = headers.shop else { throw .unauthorized("unknown_shop", "missing X-Market-Shop") }
        return shop
    }

    func signature(in headers: Headers) throws(IngestRejection) -> String {
        guard let signature = headers.signature else {
            throw .unauthorized("missing_signature", "missing X-Market-Signature")
        }
        return signature
    }

    func isGenuine(body: [UInt8], signature: String, secrets: [[UInt8]]) -> Bool {
        let given = Array(signature.utf8)
        var matched = false
        for secret in secrets {
            matched = constantTimeEquals(given, Array(Self.sign(body, secret: secret).utf8)) || matched
        }
        return matched
    }

    func describe(_ headers: Headers, outcome: inout WebhookOutcome) throws(IngestRejection) -> VerifiedWebhook? {
        guard let topic = headers.topic else { throw .badRequest("missing_topic", "missing X-Market-Topic header") }
        outcome.topic = topic
        outcome.verifiedTopic = topic
        guard let delivery = headers.delivery else {
            throw .badRequest("missing_delivery_id", "missing X-Market-Delivery header")
        }
        outcome.webhookId = delivery
        return VerifiedWebhook(topic: topic, deliveryId: delivery)
    }

    /// The marketplace's signature of `body`: the HMAC-SHA256 under `secret`, in lower-case hex.
    static func sign(_ body: [UInt8], secret: [UInt8]) -> String {
        WebhookSignature.hmacSHA256(key: secret, message: body).map { String(format: "%02x", $0) }.joined()
    }
}

// MARK: - The seam, proven with it

/// ``WebhookController`` with a platform other than Shopify, mounted on a router of its own (no Shopify route) and
/// driven over real HTTP, publishing to a real broker: what a second platform relies on the controller for.
@Suite struct SecondPlatformIntegrationTests {
    static let path = "/webhooks/market"
    static let shop: ShopDomain = "acme.market.example"
    static let secret = "market-secret"
    static let otherSecret = "beta-market-secret"
    static let shops = ShopSecrets(secrets: [shop: [secret], "beta.market.example": [otherSecret]])
    static let maxBodyBytes = 4096

    // MARK: Accepted

    @Test func genuineWebhookIsAnsweredOnceInTheBrokerWithItsShopTopicDeliveryAndRawBody() async throws {
        let h = try await IngestHarness.make("market-genuine")
        // Spacing, a non-ASCII character and a trailing newline: re-encoding would change some of them.
        let body = Array("{ \"order\" : \"Ü-1\",\n  \"qty\":2 }\n".utf8)
        try await Self.run(h) { port in
            let response = try await Self.post(port: port, body: body, headers: Self.headers(body: body, delivery: "dlv-1"))
            try #require(response.head.status == .ok)
            // Asked at once, without waiting: a 200 comes only after the broker's confirm, so the message is queued.
            #expect(try await h.depth() == 1, "the message is in the queue when the 200 arrives")
            let m = try #require(try await h.take(1).first)
            #expect(m.body == body)
            #expect(m.properties.messageId == "acme.market.example/dlv-1")
            let envelope = try EventEnvelope(body: m.body, properties: m.properties)
            #expect(envelope.source == .shopify)
            #expect(envelope.shop == Self.shop)
            #expect(envelope.topic == "order.paid")
            #expect(envelope.deliveryId == "dlv-1")
            #expect(envelope.eventId == nil)
            #expect(envelope.body == body)
        }
    }

    @Test func shopHeaderWithCapitalsMatchesTheShopConfiguredInLowerCase() async throws {
        let h = try await IngestHarness.make("market-case")
        let body = Array(#"{"order":2}"#.utf8)
        try await Self.run(h) { port in
            let headers = Self.headers(body: body, shop: "ACME.Market.Example", delivery: "dlv-2")
            let response = try await Self.post(port: port, body: body, headers: headers)
            try #require(response.head.status == .ok)
            let m = try #require(try await h.take(1).first)
            #expect(m.properties.messageId == "acme.market.example/dlv-2")
            #expect(try EventEnvelope(body: m.body, properties: m.properties).shop?.description == "acme.market.example")
        }
    }

    @Test func genuineWebhookTheBrokerDoesNotTakeIsAnswered503NotOK() async throws {
        let h = try await IngestHarness.make("market-unroutable")
        // An exchange no queue is bound to: the broker returns the (mandatory) message instead of storing it.
        let nowhere = TestBroker.unique("ingest.market-unroutable.nowhere")
        let body = Array(#"{"order":3}"#.utf8)
        try await Self.run(h, exchange: nowhere, topology: [.exchange(name: nowhere, kind: .topic)]) { port in
            let response = try await Self.post(port: port, body: body, headers: Self.headers(body: body))
            #expect(response.head.status == .serviceUnavailable)
            #expect(response.head.headerFields[.retryAfter] == "2")
        }
    }

    // MARK: Refused, and nothing published

    struct Refusal: Sendable, CustomTestStringConvertible {
        let name: String
        let status: HTTPResponse.Status
        /// What the answer's message says: the controller's words for what it checks, the platform's for its own.
        let says: String
        /// The body and headers to send.
        let request: @Sendable () -> ([UInt8], HTTPFields)
        var testDescription: String { name }

        init(
            _ name: String, _ status: HTTPResponse.Status, says: String,
            request: @escaping @Sendable () -> ([UInt8], HTTPFields)
        ) {
            self.name = name
            self.status = status
            self.says = says
            self.request = request
        }

        /// A genuine webhook with its headers changed by `change`.
        init(
            _ name: String, _ status: HTTPResponse.Status, says: String,
            change: @escaping @Sendable (inout HTTPFields) -> Void
        ) {
            self.init(
                name, status, says: says,
                request: {
                    let body = Array(#"{"order":4}"#.utf8)
                    var headers = SecondPlatformIntegrationTests.headers(body: body)
                    change(&headers)
                    return (body, headers)
                })
        }
    }

    static let refusals: [Refusal] = [
        Refusal("unknown shop", .unauthorized, says: "unknown shop") { $0[.marketShop] = "evil.market.example" },
        Refusal("a shop header that is no domain", .unauthorized, says: "unknown shop") { $0[.marketShop] = "acme market" },
        Refusal("missing signature", .unauthorized, says: "missing X-Market-Signature") { $0[.marketSignature] = nil },
        Refusal("another shop's secret", .unauthorized, says: "signature does not match") { headers in
            headers[.marketSignature] = MarketWebhooks.sign(Array(#"{"order":4}"#.utf8), secret: Array(otherSecret.utf8))
        },
        Refusal("the signature of another body", .unauthorized, says: "signature does not match") { headers in
            headers[.marketSignature] = MarketWebhooks.sign(Array(#"{"order":5}"#.utf8), secret: Array(secret.utf8))
        },
        // The right HMAC in Shopify's encoding: the controller asks the platform, not Shopify's check.
        Refusal("the right HMAC in base64", .unauthorized, says: "signature does not match") { headers in
            headers[.marketSignature] = WebhookSignature.sign(body: Array(#"{"order":4}"#.utf8), secret: Array(secret.utf8))
        },
        Refusal(
            "too large", .contentTooLarge, says: "exceeds the limit of 4096 bytes",
            request: {
                let body = [UInt8](repeating: 0x20, count: maxBodyBytes + 1)
                return (body, headers(body: body))
            }),
        Refusal("text/plain", .unsupportedMediaType, says: "send application/json") { $0[.contentType] = "text/plain" },
        Refusal("gzip", .unsupportedMediaType, says: "send the JSON unencoded") { $0[.contentEncoding] = "gzip" },
        Refusal("missing topic", .badRequest, says: "missing X-Market-Topic") { $0[.marketTopic] = nil },
        Refusal("missing delivery id", .badRequest, says: "missing X-Market-Delivery") { $0[.marketDelivery] = nil },
    ]

    @Test func refusalsComeFromTheControllerAndPublishNothing() async throws {
        let h = try await IngestHarness.make("market-refused")
        try await Self.run(h) { port in
            for refusal in Self.refusals {
                let (body, headers) = refusal.request()
                let response = try await Self.post(port: port, body: body, headers: headers)
                #expect(response.head.status == refusal.status, "\(refusal.name)")
                #expect(response.head.headerFields[.contentType] == "application/json", "\(refusal.name)")
                let text = String(buffer: response.body ?? ByteBuffer())
                #expect(text.contains(refusal.says), "\(refusal.name): \(text)")
            }

            // The barrier: a genuine webhook after the refusals, through the same server and its one broker
            // connection, is answered only once confirmed, so whatever a refusal published would be queued ahead of it.
            let body = Array(#"{"order":4}"#.utf8)
            let marker = "marker-\(UUID().uuidString)"
            let ok = try await Self.post(port: port, body: body, headers: Self.headers(body: body, delivery: marker))
            try #require(ok.head.status == .ok)
            #expect(try await h.depth() == 1, "only the marker is in the queue")
            let m = try #require(try await h.take(1).first)
            #expect(m.properties.messageId == "acme.market.example/\(marker)")
        }
    }

    // MARK: - Harness

    /// The marketplace's signed headers for `body`.
    static func headers(
        body: [UInt8], shop: String = shop.description, secret: String = secret, topic: String? = "order.paid",
        delivery: String? = UUID().uuidString
    ) -> HTTPFields {
        var h = HTTPFields()
        h[.marketShop] = shop
        h[.marketSignature] = MarketWebhooks.sign(body, secret: Array(secret.utf8))
        if let topic { h[.marketTopic] = topic }
        if let delivery { h[.marketDelivery] = delivery }
        h[.contentType] = "application/json"
        return h
    }

    /// Posts to the marketplace's route on a connection of its own, so that a refusal that closes its connection
    /// (413, 415) does not take the next request with it.
    static func post(port: Int, body: [UInt8], headers: HTTPFields) async throws -> TestClient.Response {
        try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
            try await client.execute(
                TestClient.Request(path, method: .post, authority: "localhost", headers: headers, body: ByteBuffer(bytes: body)))
        }
    }

    /// Runs `body` against a live HTTP server whose only route is `POST /webhooks/market`, served by
    /// `WebhookController<MarketWebhooks>` through ``IngestResponder``, publishing on one broker connection to
    /// `exchange` (the harness's, bound to its queue, unless given); then removes the test topology.
    static func run(
        _ h: IngestHarness, exchange: String? = nil, topology: [AMQPTopology]? = nil,
        _ body: @Sendable (_ port: Int) async throws -> Void
    ) async throws {
        let exchange = exchange ?? h.exchange
        let connection = try await IngestHarness.connect(
            "market-\(h.queue)", topology: topology ?? h.topology, start: false)
        let metrics = IngestMetrics()
        let publisher = EventPublisher(
            connections: [connection], exchange: exchange, confirmTimeout: .seconds(3), metrics: metrics)
        let budget = BodyBudget(limit: 64 << 20)
        let controller = WebhookController(
            platform: MarketWebhooks(), shops: shops, maxBodyBytes: maxBodyBytes, readTimeout: .seconds(10),
            budget: budget, publisher: publisher)
        // The responder also answers warehouse movements; this router has no such route.
        let responder = IngestResponder(
            movements: StockMovementController(
                token: nil, maxBodyBytes: maxBodyBytes, readTimeout: .seconds(10), budget: budget, publisher: publisher),
            metrics: metrics, retryAfterSeconds: 2)
        let router = Router(context: IngestRequestContext.self)
        router.post(RouterPath(path)) { request, context in
            await responder.webhook(request, context: context, controller: controller)
        }
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            services: [BrokerService(connection: connection)], logger: IngestHarness.logger)
        do {
            try await app.test(.live) { client in
                // The application's service group starts the broker connection; wait until it is ready.
                try await connection.waitUntilConnected(timeout: .seconds(30))
                try await body(client.port!)
            }
        } catch {
            try? await h.observer.deleteExchange(exchange)
            await h.cleanUp()
            throw error
        }
        try? await h.observer.deleteExchange(exchange)
        await h.cleanUp()
    }
}

extension HTTPField.Name {
    fileprivate static let marketShop = Self("X-Market-Shop")!
    fileprivate static let marketSignature = Self("X-Market-Signature")!
    fileprivate static let marketTopic = Self("X-Market-Topic")!
    fileprivate static let marketDelivery = Self("X-Market-Delivery")!
}
