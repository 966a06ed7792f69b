import AMQP
import Contracts
import Foundation
import Logging
import Postgres
import ServiceKit
import StockwireTestSupport
import Synchronization
import Testing

@testable import StockCore
@testable import calculator

/// The calculator's tests against the real PostgreSQL and RabbitMQ (``TestDatabase``, ``TestBroker``): a fresh,
/// migrated database and unique broker names per test.
enum TestServers {
    static var logger: Logger { TestBroker.logger("calculator-tests") }

    static func unique(_ prefix: String) -> String { TestDatabase.unique(prefix) }

    /// Runs `body` with the conninfo of a new database with the calculator's schema, dropped afterwards.
    static func withDatabase<T>(_ body: (String) async throws -> T) async throws -> T {
        try await TestDatabase.withDatabase("calctest", migrations: CalculatorSchema.migrations, logger: logger, body)
    }
}

/// One test's broker names and a connection that publishes events and watches availability and dead letters.
final class TestBench: Sendable {
    let conninfo: String
    let configuration: CalculatorConfiguration
    let client: AMQPConnection
    let availabilityQueue: String
    var deadQueue: String { StockwireTopology.deadLetterQueue(of: configuration.names.queue) }
    /// The shop of ``barrier()``'s markers, and the queue its catalog messages arrive on.
    let barrierShop: String
    let barrierQueue: String
    private let markers = Shared(0)

    init(conninfo: String, batchSize: Int = 100, pipelineDepth: Int = 2) async throws {
        self.conninfo = conninfo
        let id = TestServers.unique("t")
        var c = CalculatorConfiguration()
        c.postgres = conninfo
        c.broker = BrokerSettings(url: TestBroker.url, passwordFile: nil)
        c.names.queue = "calctest.events.\(id)"
        c.names.eventsExchange = "calctest.events.\(id)"
        c.names.availabilityExchange = "calctest.availability.\(id)"
        c.names.catalogExchange = "calctest.catalog.\(id)"
        c.names.writesExchange = "calctest.writes.\(id)"
        c.names.writesQueue = "calctest.writes.\(id)"
        c.names.deadExchange = "calctest.dead.\(id)"
        c.names.requestQueue = "calctest.requests.\(id)"
        c.batchSize = batchSize
        c.pipelineDepth = pipelineDepth
        c.relayInterval = .milliseconds(300)
        configuration = c
        availabilityQueue = "calctest.watch.\(id)"
        // A shop domain is a host name: no "_" (ingest would refuse it, and so does the envelope's ShopDomain).
        barrierShop = "barrier-\(id.replacingOccurrences(of: "_", with: "-")).myshopify.com"
        barrierQueue = "calctest.barrier.\(id)"
        client = try await TestBroker.connect(
            "calc-test-client",
            topology: c.topology + [
                .queue(name: availabilityQueue, arguments: ["x-queue-type": "quorum"]),
                .binding(queue: availabilityQueue, exchange: c.names.availabilityExchange, routingKey: "#"),
                .queue(name: barrierQueue, arguments: ["x-queue-type": "quorum"]),
                .binding(queue: barrierQueue, exchange: c.names.catalogExchange, routingKey: barrierShop),
            ], logger: TestServers.logger)
    }

    /// Publishes an event as ingest would, to this test's exchange.
    func publish(_ envelope: EventEnvelope) async throws {
        var message = envelope.message()
        message.exchange = configuration.names.eventsExchange
        try await client.publish(message, timeout: .seconds(10))
    }

    /// A warehouse movement event.
    func movement(_ m: StockMovement) async throws {
        try await publish(
            EventEnvelope(
                source: .warehouse, shop: nil, topic: m.kind.rawValue, deliveryId: m.movementId,
                receivedAtMillis: nowMillis(), body: m.json()))
    }

    /// A Shopify webhook event.
    func shopify(
        _ topic: String, _ json: String, shop: ShopDomain = "a.myshopify.com", webhookId: String, triggeredAt: String? = nil
    ) async throws {
        try await publish(
            EventEnvelope(
                source: .shopify, shop: shop, topic: topic, deliveryId: webhookId, triggeredAt: triggeredAt,
                receivedAtMillis: nowMillis(), body: Array(json.utf8)))
    }

    /// Registers SKUs through a products/create event.
    func registerSkus(_ skus: [String], productId: Int64 = 1) async throws {
        let variants = skus.enumerated().map {
            #"{"id": \#(productId * 1000 + Int64($0.offset)), "sku": "\#($0.element)", "inventory_item_id": \#(7000 + $0.offset)}"#
        }
        try await shopify(
            "products/create", #"{"id": \#(productId), "variants": [\#(variants.joined(separator: ","))]}"#,
            webhookId: "product-\(productId)")
    }

    /// Starts an in-process calculator; stop it with ``RunningCalculator/stop()``.
    func startCalculator() async throws -> RunningCalculator {
        let parts = try await CalculatorApplication.buildParts(configuration: configuration, logger: TestServers.logger)
        parts.broker.connection.start()
        let (processor, requests) = (parts.processor, parts.requests)
        let task = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await processor.run() }
                group.addTask { try await requests.run() }
                try await group.waitForAll()
            }
        }
        return RunningCalculator(parts: parts, task: task)
    }

    /// Reads `count` messages from a queue (acking them), or what came within `timeout`; more when they came at once.
    /// For "nothing more", follow a ``barrier()`` with ``drainAll(_:)``.
    func drain(_ queue: String, expecting count: Int, timeout: Duration = .seconds(20)) async throws -> [AMQPDelivery] {
        let collected = Shared<[AMQPDelivery]>([])
        let consumer = client.consume(queue: queue, prefetch: 1000)
        let reader = Task {
            for try await d in consumer {
                d.ack()
                collected.update { $0.append(d) }
            }
        }
        _ = try await eventually(timeout: timeout) { collected.value.count >= count }
        consumer.cancel()
        reader.cancel()
        return collected.value
    }

    /// Reads everything in a queue now (acking it): after a ``barrier()``, all the calculator published to it so far.
    func drainAll(_ queue: String) async throws -> [AMQPDelivery] {
        let count = Int(try await client.queueInfo(queue).messages)
        return count == 0 ? [] : try await drain(queue, expecting: count)
    }

    /// The availability messages published so far (read from the watch queue), `count` of them or more.
    func availability(expecting count: Int, timeout: Duration = .seconds(20)) async throws -> [AvailabilityMessage] {
        try await drain(availabilityQueue, expecting: count, timeout: timeout).map { try AvailabilityMessage.decode($0.body) }
    }

    /// Every availability message in the watch queue now (``drainAll(_:)``).
    func availability() async throws -> [AvailabilityMessage] {
        try await drainAll(availabilityQueue).map { try AvailabilityMessage.decode($0.body) }
    }

    /// A barrier, instead of a sleep: a `products/create` of a product without variants, of a shop of the bench's own
    /// (``barrierShop``), sent behind everything sent so far; returns once its catalog message is on
    /// ``barrierQueue``. The calculator commits its batches in delivery order and settles them (publishes their outbox
    /// rows, dead-letters their poison, acknowledges) in the same order, so by then every event sent before it has
    /// been applied, and what it published or dead-lettered is in its queue. A marker leaves a row in
    /// `processed_messages` (``processed()`` does not count it) and nothing in `skus` or `variants`.
    func barrier() async throws {
        let productId = 9_000_000 + markers.value
        markers.update { $0 += 1 }
        let wanted = "catalog/\(barrierShop)/\(productId)/"
        let seen = Shared(false)
        let consumer = client.consume(queue: barrierQueue, prefetch: 100)
        let reader = Task {
            for try await d in consumer {
                d.ack()
                if d.properties.messageId?.hasPrefix(wanted) == true { seen.update { $0 = true } }
            }
        }
        defer {
            consumer.cancel()
            reader.cancel()
        }
        try await shopify(
            "products/create", #"{"id": \#(productId), "variants": []}"#, shop: try ShopDomain(barrierShop),
            webhookId: "marker-\(productId)")
        guard try await eventually({ seen.value }) else {
            throw TestFailure("the calculator did not handle the barrier's marker \(productId) within 20 s")
        }
    }

    /// Messages applied (rows of `processed_messages`), the barrier's markers left out.
    func processed() async throws -> Int64 {
        let db = try await PostgresConnection.connect(conninfo)
        let v = try await db.query(
            "SELECT count(*) FROM processed_messages WHERE NOT starts_with(message_id, $1)", [barrierShop + "/"]
        ).scalar(Int64.self)
        await db.close()
        return v
    }

    /// Deletes this test's queues and exchanges.
    func tearDown() async {
        for q in [
            configuration.names.queue, deadQueue, availabilityQueue, barrierQueue, configuration.names.requestQueue,
            configuration.names.writesQueue,
        ] {
            try? await client.deleteQueue(q)
        }
        for e in [
            configuration.names.eventsExchange, configuration.names.availabilityExchange, configuration.names.catalogExchange,
            configuration.names.writesExchange,
            configuration.names.deadExchange,
        ] { try? await client.deleteExchange(e) }
        await client.close()
    }

    /// The truth of a SKU straight from the database.
    func stock(_ sku: String) async throws -> SkuStock? {
        let db = try await PostgresConnection.connect(conninfo)
        defer { Task { await db.close() } }
        return try await StockStore(db: db, routes: .init(availabilityExchange: "", catalogExchange: "")).stock(sku: sku)?.0
    }

    func scalar(_ sql: String) async throws -> Int64 {
        let db = try await PostgresConnection.connect(conninfo)
        let v = try await db.query(sql).scalar(Int64.self)
        await db.close()
        return v
    }
}

/// An in-process calculator.
struct RunningCalculator: Sendable {
    let parts: CalculatorApplication.Parts
    let task: Task<Void, any Error>

    func stop() async {
        task.cancel()
        _ = try? await task.value
        await parts.broker.connection.close()
        await parts.database.close()
        await parts.relayDatabase.close()
    }
}
