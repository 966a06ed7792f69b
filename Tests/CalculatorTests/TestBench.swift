import AMQP
import Contracts
import Foundation
import Logging
import Postgres
import ServiceKit
import StockwireTestSupport
import Testing

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
    var deadQueue: String { StockwireTopology.deadLetterQueue(of: configuration.queue) }

    init(conninfo: String, batchSize: Int = 100, pipelineDepth: Int = 2) async throws {
        self.conninfo = conninfo
        let id = TestServers.unique("t")
        var c = CalculatorConfiguration()
        c.postgres = conninfo
        c.broker = BrokerSettings(url: TestBroker.url, passwordFile: nil)
        c.queue = "calctest.events.\(id)"
        c.eventsExchange = "calctest.events.\(id)"
        c.availabilityExchange = "calctest.availability.\(id)"
        c.catalogExchange = "calctest.catalog.\(id)"
        c.writesExchange = "calctest.writes.\(id)"
        c.writesQueue = "calctest.writes.\(id)"
        c.deadExchange = "calctest.dead.\(id)"
        c.requestQueue = "calctest.requests.\(id)"
        c.batchSize = batchSize
        c.pipelineDepth = pipelineDepth
        c.relayInterval = .milliseconds(300)
        configuration = c
        availabilityQueue = "calctest.watch.\(id)"
        client = try await TestBroker.connect(
            "calc-test-client",
            topology: c.topology + [
                .queue(name: availabilityQueue, arguments: ["x-queue-type": "quorum"]),
                .binding(queue: availabilityQueue, exchange: c.availabilityExchange, routingKey: "#"),
            ], logger: TestServers.logger)
    }

    /// Publishes an event as ingest would, to this test's exchange.
    func publish(_ envelope: EventEnvelope) async throws {
        var message = envelope.message()
        message.exchange = configuration.eventsExchange
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
        _ topic: String, _ json: String, shop: String = "a.myshopify.com", webhookId: String, triggeredAt: String? = nil
    ) async throws {
        try await publish(
            EventEnvelope(
                source: .shopify, shop: shop, topic: topic, deliveryId: webhookId, triggeredAt: triggeredAt,
                receivedAtMillis: nowMillis(), body: Array(json.utf8)))
    }

    /// Registers SKUs through a products/create event.
    func registerSkus(_ skus: [String], productId: Int64 = 1) async throws {
        let variants = skus.enumerated().map { #"{"id": \#(productId * 1000 + Int64($0.offset)), "sku": "\#($0.element)", "inventory_item_id": \#(7000 + $0.offset)}"# }
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

    /// Reads everything currently in a queue (acking it).
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
        try await Task.sleep(for: .milliseconds(200))
        consumer.cancel()
        reader.cancel()
        return collected.value
    }

    /// The availability messages published so far (read from the watch queue).
    func availability(expecting count: Int, timeout: Duration = .seconds(20)) async throws -> [AvailabilityMessage] {
        try await drain(availabilityQueue, expecting: count, timeout: timeout).map { try AvailabilityMessage.decode($0.body) }
    }

    /// Deletes this test's queues and exchanges.
    func tearDown() async {
        for q in [configuration.queue, deadQueue, availabilityQueue, configuration.requestQueue, configuration.writesQueue] {
            try? await client.deleteQueue(q)
        }
        for e in [configuration.eventsExchange, configuration.availabilityExchange, configuration.catalogExchange,
                  configuration.writesExchange,
                  configuration.deadExchange] { try? await client.deleteExchange(e) }
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
