import AMQP
import Contracts
import Foundation
import Logging
import ServiceKit
import StockwireTestSupport
import Testing

@testable import exporter

/// `exporter dead-letters`: against the real broker, on queues unique to each test.
@Suite(.timeLimit(.minutes(2))) struct DeadLettersIntegrationTests {
    @Test func listShowsEveryMessageWithItsReasonAndLosesNothing() async throws {
        try await DeadLetterFixture.with(shops: 1) { f in
            let shop = f.shops[0]
            try await f.deadLetterByExporter(
                shop, sku: "A", version: 3, reason: "INVALID_INVENTORY_ITEM: The item was not found.")
            try await f.deadLetterByExporter(
                shop, sku: "B", version: 4, reason: "INVALID_INVENTORY_ITEM: The item was not found.")
            try await f.deadLetterByExporter(
                shop, body: Array("not json".utf8), id: "garbage", reason: "unreadable availability message: x")
            try await f.rejectInShopQueue(shop, sku: "C", version: 5)
            let queue = f.deadLetters(shop)
            #expect(try await eventually { try await queue.info().messages == 4 })

            let first = try await queue.list()
            #expect(try await queue.info().messages == 4, "listing released every message")
            let second = try await queue.list()
            #expect(try await queue.info().messages == 4)

            #expect(first.letters.map(\.messageId) == second.letters.map(\.messageId), "listing keeps the queue's order")
            #expect(
                Set(first.letters.compactMap(\.messageId)) == [
                    f.sku("A") + "/3", f.sku("B") + "/4", "garbage", f.sku("C") + "/5",
                ])
            let byId = Dictionary(uniqueKeysWithValues: first.letters.map { ($0.messageId ?? "", $0) })
            #expect(byId[f.sku("A") + "/3"]?.availability?.sku == f.sku("A"))
            #expect(byId[f.sku("A") + "/3"]?.availability?.version == 3)
            #expect(byId[f.sku("A") + "/3"]?.reason.source == .service)
            #expect(byId["garbage"]?.availability == nil && byId["garbage"]?.reason.code == "unreadable")
            let rejected = try #require(byId[f.sku("C") + "/5"])
            #expect(rejected.reason.source == .broker && rejected.reason.code == "broker:rejected")
            #expect(rejected.time != nil, "the broker's x-death time is shown")
            #expect(second.letters.allSatisfy { $0.deliveryCount >= 1 }, "the second listing sees the first one's release")
            #expect(
                first.countsByReason.map { "\($0.code)=\($0.count)" }
                    == ["INVALID_INVENTORY_ITEM=2", "broker:rejected=1", "unreadable=1"])

            let text = Exporter.DeadLetters.render(first)
            #expect(text.contains("4 message(s)") && text.contains("INVALID_INVENTORY_ITEM") && text.contains(f.sku("B")))
            #expect(try await queue.letters(messageId: "garbage").count == 1)
            #expect(try await queue.info().messages == 4, "show loses nothing either")
        }
    }

    @Test func replayOfOneMessageMovesOnlyItToThatShopsQueue() async throws {
        try await DeadLetterFixture.with(shops: 2) { f in
            let (shop, other) = (f.shops[0], f.shops[1])
            for v in 1...3 {
                try await f.deadLetterByExporter(shop, sku: "R", version: Int64(v), reason: "INVALID_LOCATION: gone")
            }
            let queue = f.deadLetters(shop)
            #expect(try await eventually { try await queue.info().messages == 3 })

            let result = try await queue.replay(.messageId(f.sku("R") + "/2"))
            #expect(result.replayed == 1)
            #expect(try await eventually { try await queue.info().messages == 2 }, "the replayed message left the dead letters")
            #expect(try await eventually { try await f.ready(StockwireTopology.exporterQueue(shop: shop)) == 1 })
            #expect(try await f.ready(StockwireTopology.exporterQueue(shop: other)) == 0, "no other shop receives it")
            let remaining = try await queue.list().letters.compactMap(\.messageId)
            #expect(Set(remaining) == [f.sku("R") + "/1", f.sku("R") + "/3"])

            let copy = try #require(try await f.connection.take(1, from: StockwireTopology.exporterQueue(shop: shop)).first)
            #expect(copy.properties.messageId == f.sku("R") + "/2")
            #expect(try AvailabilityMessage.decode(copy.body).version == 2, "the body is unchanged")
            #expect(copy.properties.type == AvailabilityMessage.messageType)
            #expect(
                !copy.properties.headers.keys.contains { DeadLetterQueue.Letter.isDeadLetterHeader($0) },
                "dead-letter bookkeeping is stripped: \(copy.properties.headers.keys.sorted())")
            #expect(copy.properties.headers["schema"] == "1", "other headers are kept")
        }
    }

    @Test func replayOfAllEmptiesTheDeadLettersIntoTheShopsQueue() async throws {
        try await DeadLetterFixture.with(shops: 2) { f in
            let (shop, other) = (f.shops[0], f.shops[1])
            for v in 1...20 {
                try await f.deadLetterByExporter(shop, sku: "S\(v % 4)", version: Int64(v), reason: "INVALID_INVENTORY_ITEM: x")
            }
            try await f.rejectInShopQueue(shop, sku: "T", version: 1)
            let queue = f.deadLetters(shop)
            #expect(try await eventually { try await queue.info().messages == 21 })
            // The broker-rejected one must be replayable too, without its x-death.
            let result = try await queue.replay(.all)
            #expect(result.replayed == 21)
            #expect(try await eventually { try await queue.info().messages == 0 })
            #expect(try await eventually { try await f.ready(StockwireTopology.exporterQueue(shop: shop)) == 21 })
            #expect(try await f.ready(StockwireTopology.exporterQueue(shop: other)) == 0)
            let copies = try await f.connection.take(21, from: StockwireTopology.exporterQueue(shop: shop))
            #expect(copies.allSatisfy { $0.properties.headers["x-death"] == nil && $0.deliveryCount == 0 })
        }
    }

    @Test func replayOfAnUnknownIdMovesNothing() async throws {
        try await DeadLetterFixture.with(shops: 1) { f in
            let shop = f.shops[0]
            try await f.deadLetterByExporter(shop, sku: "U", version: 1, reason: "INVALID_INVENTORY_ITEM: x")
            let queue = f.deadLetters(shop)
            #expect(try await eventually { try await queue.info().messages == 1 })
            let result = try await queue.replay(.messageId("no-such-id"))
            #expect(result.replayed == 0 && result.scanned == 1)
            #expect(try await eventually { try await queue.info().messages == 1 })
            #expect(try await f.ready(StockwireTopology.exporterQueue(shop: shop)) == 0)
        }
    }

    @Test func purgeRequiresYesAndThenEmptiesTheQueue() async throws {
        try await DeadLetterFixture.with(shops: 1) { f in
            let shop = f.shops[0]
            for v in 1...3 { try await f.deadLetterByExporter(shop, sku: "P", version: Int64(v), reason: "INVALID_LOCATION: x") }
            let queue = f.deadLetters(shop)
            #expect(try await eventually { try await queue.info().messages == 3 })

            #expect(throws: (any Error).self, "purge without --yes is a usage error") {
                try Exporter.parseAsRoot(["dead-letters", "purge", shop])
            }
            #expect(try await queue.info().messages == 3)
            let command = try Exporter.parseAsRoot(["dead-letters", "purge", shop, "--yes"])
            #expect(command is Exporter.DeadLetters.Purge)

            #expect(try await queue.purge() == 3)
            #expect(try await queue.info().messages == 0)
        }
    }

    @Test func aShopWithoutADeadLetterQueueIsNamedInTheError() async throws {
        try await DeadLetterFixture.with(shops: 0) { f in
            let queue = DeadLetterQueue(shop: "\(f.prefix)-missing.myshopify.com", connection: f.connection)
            await #expect(throws: DeadLetterQueueError.self) { try await queue.list() }
            do {
                _ = try await queue.list()
            } catch let error as DeadLetterQueueError {
                #expect(error.code == .queueNotFound && error.message.contains(queue.name))
            }
        }
    }
}

// MARK: - Fixture

/// Shop queues and their dead-letter queues declared as the exporter declares them (bound to an exchange of the
/// test's own), and ways to put messages into the dead letters as the exporter and the broker do.
struct DeadLetterFixture: Sendable {
    let connection: AMQPConnection
    let shops: [String]
    let prefix: String
    var exchange: String { "test.availability.\(prefix)" }

    /// Runs `body` with a fixture and always deletes its queues afterwards (a `defer { Task { … } }` would not
    /// finish before the test process exits).
    static func with(shops count: Int, _ body: (DeadLetterFixture) async throws -> Void) async throws {
        let f = try await start(shops: count)
        do {
            try await body(f)
        } catch {
            await f.stop()
            throw error
        }
        await f.stop()
    }

    static func start(shops count: Int = 1) async throws -> DeadLetterFixture {
        let prefix = "d" + UUID().uuidString.prefix(8).lowercased()
        let shops = (0..<count).map { "\(prefix)-\($0).myshopify.com" }
        var logger = Logger(label: "dead-letters-test")
        logger.logLevel = .error
        let config = try TestBroker.configuration("dead-letters-test")
        let connection = AMQPConnection(
            configuration: config,
            topology: StockwireTopology.exporter(
                shops: shops, availabilityExchange: "test.availability.\(prefix)", catalogExchange: "test.catalog.\(prefix)"),
            logger: logger)
        connection.start()
        try await connection.waitUntilConnected(timeout: .seconds(30))
        return DeadLetterFixture(connection: connection, shops: shops, prefix: prefix)
    }

    func sku(_ name: String) -> String { "\(prefix)-\(name)" }

    func deadLetters(_ shop: String) -> DeadLetterQueue {
        var queue = DeadLetterQueue(shop: shop, connection: connection)
        queue.idleTimeout = .seconds(1)
        return queue
    }

    func ready(_ queue: String) async throws -> Int { Int(try await connection.queueInfo(queue).messages) }

    /// An availability message as the calculator publishes it.
    func availability(sku name: String, version: Int64) throws -> ([UInt8], AMQPProperties) {
        let m = AvailabilityMessage(
            sku: sku(name), available: 5, onHand: 5, reserved: 0, version: version, causes: ["test/\(version)"],
            computedAtMillis: Int64(Date().timeIntervalSince1970 * 1000))
        return (
            try m.json(),
            AMQPProperties(
                contentType: "application/json", messageId: "\(sku(name))/\(version)",
                timestamp: UInt64(Date().timeIntervalSince1970), type: AvailabilityMessage.messageType,
                headers: ["schema": "1"])
        )
    }

    /// Dead-letters a message the way `ShopWriter.deadLetter` does.
    func deadLetterByExporter(_ shop: String, sku: String, version: Int64, reason: String) async throws {
        let (body, properties) = try availability(sku: sku, version: version)
        try await deadLetterByExporter(shop, body: body, properties: properties, reason: reason)
    }

    func deadLetterByExporter(_ shop: String, body: [UInt8], id: String, reason: String) async throws {
        try await deadLetterByExporter(shop, body: body, properties: AMQPProperties(messageId: id), reason: reason)
    }

    private func deadLetterByExporter(
        _ shop: String, body: [UInt8], properties: AMQPProperties, reason: String
    ) async throws {
        var properties = properties
        let queue = StockwireTopology.exporterQueue(shop: shop)
        properties.headers["x-stockwire-reason"] = .string(reason)
        properties.headers["x-stockwire-queue"] = .string(queue)
        try await connection.publish(
            AMQPMessage(exchange: StockwireTopology.deadExchange, routingKey: queue, body: body, properties: properties))
    }

    /// Puts a message into the shop's queue and rejects it without requeue: the broker dead-letters it (`x-death`).
    func rejectInShopQueue(_ shop: String, sku: String, version: Int64) async throws {
        let (body, properties) = try availability(sku: sku, version: version)
        let queue = StockwireTopology.exporterQueue(shop: shop)
        try await connection.publish(AMQPMessage(exchange: "", routingKey: queue, body: body, properties: properties))
        let consumer = connection.consume(queue: queue, prefetch: 1)
        for try await delivery in consumer {
            delivery.reject(requeue: false)
            break
        }
        consumer.cancel()
    }

    func stop() async {
        for shop in shops {
            let queue = StockwireTopology.exporterQueue(shop: shop)
            try? await connection.deleteQueue(queue)
            try? await connection.deleteQueue(StockwireTopology.deadLetterQueue(of: queue))
        }
        try? await connection.deleteExchange(exchange)
        try? await connection.deleteExchange("test.catalog.\(prefix)")
        await connection.close()
    }
}

/// The dead-letters command line, parsed without a broker.
@Suite struct DeadLettersCommandLineTests {
    @Test func commandLineRequiresExactlyOneReplaySelection() throws {
        #expect(throws: (any Error).self) { try Exporter.parseAsRoot(["dead-letters", "replay", "a.myshopify.com"]) }
        #expect(throws: (any Error).self) {
            try Exporter.parseAsRoot(["dead-letters", "replay", "a.myshopify.com", "--all", "--message-id", "x"])
        }
        #expect(try Exporter.parseAsRoot(["dead-letters", "replay", "a.myshopify.com", "--all"]) is Exporter.DeadLetters.Replay)
        #expect(try Exporter.parseAsRoot(["dead-letters", "list", "a.myshopify.com"]) is Exporter.DeadLetters.List)
    }
}
