import AMQP
import Contracts
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Signing
import StockwireTestSupport
import Testing

@testable import ingest

/// One isolated ingest under test: an exchange and a quorum queue bound `#` of its own (unique names), so that
/// tests running in parallel never see each other's messages and the shared `stockwire.events` topology is never
/// touched. The app publishes to that exchange (``IngestConfiguration/eventsExchange``); an observer connection
/// inspects and drains the queue.
struct IngestHarness: Sendable {
    static let shop = "acme.myshopify.com"
    static let secret = "test-webhook-secret"
    static let oldSecret = "previous-webhook-secret"
    static let token = "warehouse-token-1"

    /// The logger of the app and of the test connections: errors only.
    static var logger: Logger { TestBroker.logger("ingest-tests", level: .error) }

    let exchange: String
    let queue: String
    let observer: AMQPConnection
    let configuration: IngestConfiguration

    var topology: [AMQPTopology] {
        [
            .exchange(name: exchange, kind: .topic), .quorumQueue(queue),
            .binding(queue: queue, exchange: exchange, routingKey: "#"),
        ]
    }

    static func make(
        _ name: String, configure: (inout IngestConfiguration) -> Void = { _ in }
    ) async throws -> IngestHarness {
        let exchange = TestBroker.unique("ingest.\(name).ex")
        let queue = TestBroker.unique("ingest.\(name).q")
        var configuration = IngestConfiguration()
        configuration.host = "127.0.0.1"
        configuration.port = 0
        configuration.shops = ShopSecrets(secrets: [
            try ShopDomain(shop): [secret, oldSecret], "beta.myshopify.com": ["beta-secret"],
        ])
        configuration.movementToken = Array(token.utf8)
        configuration.eventsExchange = exchange
        configuration.confirmTimeout = .seconds(3)
        configure(&configuration)
        let topology: [AMQPTopology] = [
            .exchange(name: exchange, kind: .topic), .quorumQueue(queue),
            .binding(queue: queue, exchange: exchange, routingKey: "#"),
        ]
        let observer = try await connect("observer-\(name)", topology: topology, start: true)
        return IngestHarness(exchange: exchange, queue: queue, observer: observer, configuration: configuration)
    }

    /// Runs ingest (live HTTP server, real broker) for the duration of `body`, then removes the test topology.
    func run<T: Sendable>(
        publishers: Int = 1, _ body: @Sendable (any TestClientProtocol, Int) async throws -> T
    ) async throws -> T {
        var created: [AMQPConnection] = []
        for i in 0..<publishers {
            created.append(try await Self.connect("ingest-\(queue)-\(i)", topology: topology, start: false))
        }
        let connections = created
        let app = try buildApplication(configuration: configuration, connections: connections, logger: Self.logger)
        do {
            let result = try await app.test(.live) { client in
                // The app's service group starts the broker connections; wait until they are ready.
                for c in connections { try await c.waitUntilConnected(timeout: .seconds(30)) }
                return try await body(client, client.port!)
            }
            await cleanUp()
            return result
        } catch {
            await cleanUp()
            throw error
        }
    }

    /// A test connection declaring `topology` that reconnects fast (at most 500 ms apart); not started unless `start`.
    static func connect(_ name: String, topology: [AMQPTopology], start: Bool) async throws -> AMQPConnection {
        try await TestBroker.connect(
            name, topology: topology, reconnectMaxDelay: .milliseconds(500), start: start, logger: logger)
    }

    func cleanUp() async {
        try? await observer.deleteQueue(queue)
        try? await observer.deleteExchange(exchange)
        await observer.close()
    }

    /// Messages ready in the test queue.
    func depth() async throws -> UInt32 { try await observer.queueInfo(queue).messages }

    /// Expects exactly the messages `ids` (message ids) among those published so far, takes them off the queue and
    /// returns them. What "so far" means is proven by a barrier, not a sleep: a marker webhook posted through the
    /// same ingest on `port` (``publishMarker(port:)``) must be the only other message in the queue.
    func expectPublished(
        _ ids: Set<String>, port: Int, timeout: Duration = .seconds(20), sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> [AMQPDelivery] {
        let marker = try await publishMarker(port: port)
        let depth = Int(try await self.depth())
        #expect(depth == ids.count + 1, "messages in the queue besides the marker", sourceLocation: sourceLocation)
        let messages = try await take(depth, timeout: timeout)
        #expect(messages.last?.properties.messageId == marker, "the marker came last", sourceLocation: sourceLocation)
        let published = messages.filter { $0.properties.messageId != marker }
        #expect(Set(published.compactMap(\.properties.messageId)) == ids, sourceLocation: sourceLocation)
        return published
    }

    /// A barrier for "nothing else was published": posts a valid webhook with a fresh id to the ingest on `port`
    /// and waits for its 200, which ingest answers only once the broker confirmed the message into the queue. Ingest
    /// (with one publisher connection, the default of ``run(publishers:_:)``) publishes on one channel in the order
    /// it handles requests, so whatever an earlier request published is in the queue ahead of the marker. Returns
    /// the marker's message id.
    func publishMarker(port: Int) async throws -> String {
        let id = "marker-\(UUID().uuidString)"
        let body = Array(#"{"id":1}"#.utf8)
        let headers = Self.webhookHeaders(body: body, webhookId: id).map { ($0.name.rawName, $0.value) }
        let status = await onThread { () -> Int? in
            let c = RawHTTPConnection(port: port, receiveTimeout: .seconds(30))
            c?.send(RawHTTPConnection.request(path: "/webhooks/shopify", headers: headers, body: body))
            return c?.readResponse()?.status
        }
        guard status == 200 else { throw TestFailure("the marker webhook was answered \(status.map(String.init) ?? "nothing")") }
        return "\(Self.shop)/\(id)"
    }

    /// Takes exactly `count` messages off the queue (acked), failing after `timeout`.
    func take(_ count: Int, timeout: Duration = .seconds(20)) async throws -> [AMQPDelivery] {
        try await observer.take(count, from: queue, timeout: timeout)
    }

    // MARK: - Requests

    static func webhookHeaders(
        body: [UInt8], shop: String = shop, secret: String = secret, topic: String? = "orders/create",
        webhookId: String? = UUID().uuidString, prefix: String = "X-"
    ) -> HTTPFields {
        var h = HTTPFields()
        h[HTTPField.Name("\(prefix)Shopify-Shop-Domain")!] = shop
        h[HTTPField.Name("\(prefix)Shopify-Hmac-Sha256")!] = WebhookSignature.sign(body: body, secret: Array(secret.utf8))
        if let topic { h[HTTPField.Name("\(prefix)Shopify-Topic")!] = topic }
        if let webhookId { h[HTTPField.Name("\(prefix)Shopify-Webhook-Id")!] = webhookId }
        h[HTTPField.Name("\(prefix)Shopify-Event-Id")!] = "event-42"
        h[HTTPField.Name("\(prefix)Shopify-Triggered-At")!] = "2026-11-27T10:00:00.123Z"
        h[HTTPField.Name("\(prefix)Shopify-API-Version")!] = "2026-10"
        h[.contentType] = "application/json"
        return h
    }

    static func post(
        _ client: any TestClientProtocol, _ path: String, body: [UInt8], headers: HTTPFields
    ) async throws -> TestResponse {
        try await client.execute(uri: path, method: .post, headers: headers, body: ByteBuffer(bytes: body))
    }
}

extension TestResponse {
    var text: String { String(buffer: body) }
}

/// Shopify's published test vector (see shopify-facts.md).
enum ShopifyVector {
    static let secret = "test-webhook-secret"
    static let body = #"{"id":1234567890,"email":"customer@example.com","total_price":"123.45"}"#
    static let signature = "QNyObTlKbMx2qDlPF/ZOZcBqg5OgPg+2oky3zldc0Gw="
}
