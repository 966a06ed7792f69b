import AMQP
import Contracts
import Foundation
import Postgres
import StockwireTestSupport
import Testing

@testable import StockCore
@testable import calculator

/// The calculator against the real PostgreSQL and RabbitMQ; each test has its own database, queue and exchanges.
@Suite struct ProcessingIntegrationTests {
    @Test func duplicatesAreAppliedOnceAndAvailabilityIsPublished() async throws {
        try await TestServers.withDatabase { conninfo in
            let bench = try await TestBench(conninfo: conninfo)
            let calculator = try await bench.startCalculator()
            try await bench.registerSkus(["A"])
            let receipt = StockMovement(movementId: "m1", sku: "A", kind: .receipt, quantity: 10)
            for _ in 0..<3 { try await bench.movement(receipt) }
            let order = """
                {"id": 9007199254740993, "updated_at": "2024-05-01T12:00:00Z", "cancelled_at": null,
                 "line_items": [{"id": 1, "sku": "A", "quantity": 3, "current_quantity": 3}]}
                """
            for _ in 0..<2 { try await bench.shopify("orders/create", order, webhookId: "w1") }
            // The same order again under another webhook id: an equal snapshot is stale, not applied twice.
            try await bench.shopify("orders/updated", order, webhookId: "w2")
            #expect(try await eventually { try await bench.stock("A")?.reserved == 3 })
            // Every duplicate has been handled once a marker sent after them has: none was applied again.
            try await bench.barrier()
            let stock = try #require(try await bench.stock("A"))
            #expect(stock.onHand == 10 && stock.reserved == 3 && stock.available == 7)
            #expect(try await bench.processed() == 4)
            let messages = try await bench.availability()
            #expect(messages.last?.available == 7)
            #expect(messages.last?.version == stock.version)
            #expect(messages.map(\.version) == messages.map(\.version).sorted())
            // Marked by a later batch's transaction or, with none coming, on their own within moments.
            #expect(try await eventually { try await bench.scalar("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0 })
            #expect(try await bench.scalar("SELECT count(*) FROM variants") == 1)
            await calculator.stop()
            await bench.tearDown()
        }
    }

    @Test func aProductUpdateIsPublishedAsTheShopsCatalogMessage() async throws {
        try await TestServers.withDatabase { conninfo in
            let bench = try await TestBench(conninfo: conninfo)
            let watch = "calctest.catalog-watch.\(TestServers.unique("c"))"
            try await bench.client.declare([
                .queue(name: watch, arguments: ["x-queue-type": "quorum"]),
                .binding(queue: watch, exchange: bench.configuration.names.catalogExchange, routingKey: "b.myshopify.com"),
            ])
            let calculator = try await bench.startCalculator()
            let product = """
                {"id": 42, "updated_at": "2024-05-01T12:00:00+02:00", "variants": [
                  {"id": 421, "sku": " TEE-S ", "inventory_item_id": 9007199254740993},
                  {"id": 422, "sku": "", "inventory_item_id": 8}]}
                """
            try await bench.shopify("products/update", product, shop: "a.myshopify.com", webhookId: "p-a")
            try await bench.shopify("products/update", product, shop: "b.myshopify.com", webhookId: "p-b")
            try await bench.barrier()  // both updates have been applied and their catalog messages published
            let delivered = try await bench.drainAll(watch)
            #expect(!delivered.isEmpty)
            // At least once: the outbox relay may publish a row again before it is marked sent.
            #expect(
                Set(delivered.compactMap(\.properties.messageId)).count == 1,
                "only shop b's catalog reaches a queue bound to shop b")
            #expect(try delivered.allSatisfy { try CatalogMessage.decode($0.body).shop == "b.myshopify.com" })
            let first = try #require(delivered.first)
            #expect(first.properties.type == CatalogMessage.messageType)
            let message = try CatalogMessage.decode(first.body)
            #expect(message.shop == "b.myshopify.com" && message.productId == 42)
            #expect(message.updatedAtMillis == 1_714_557_600_000)
            #expect(
                message.variants == [
                    .init(variantId: 421, sku: "TEE-S", inventoryItemId: 9_007_199_254_740_993),
                    .init(variantId: 422, sku: nil, inventoryItemId: 8),
                ])
            try? await bench.client.deleteQueue(watch)
            await calculator.stop()
            await bench.tearDown()
        }
    }

    /// Outbox rows published are marked sent by the next batch's own transaction, in its first statement, instead of
    /// an update and commit of their own per batch (issue #19); a batch of nothing but poison still marks them; and
    /// an idle calculator marks what its last batch published on its own.
    @Test func publishedOutboxRowsAreMarkedByTheNextBatchOrOnTheirOwnWhenNoneComes() async throws {
        try await TestServers.withDatabase { conninfo in
            let bench = try await TestBench(conninfo: conninfo)
            let calculator = try await bench.startCalculator()
            try await bench.registerSkus(["M"])
            #expect(try await eventually { try await bench.stock("M") != nil })
            let db = try await PostgresConnection.connect(conninfo)
            let store = StockStore(db: db, routes: .init(availabilityExchange: "x", catalogExchange: "y"))
            func receipt(_ id: String) -> PreparedEvent {
                PreparedEvent(
                    index: 0, event: .movements([StockMovement(movementId: id, sku: "M", kind: .receipt, quantity: 1)]),
                    cause: EventCause(messageId: id, receivedAtMillis: nowMillis()))
            }
            func unsent(_ ids: [Int64]) async throws -> Int64 {
                try await db.query("SELECT count(*) FROM outbox WHERE sent_at IS NULL AND id = ANY($1::bigint[])", [ids])
                    .scalar(Int64.self)
            }
            let first = try await store.apply([receipt("k1")], computedAtMillis: nowMillis()).outbox.map(\.id)
            #expect(!first.isEmpty)
            #expect(try await unsent(first) == Int64(first.count))
            let second = try await store.apply([receipt("k2")], computedAtMillis: nowMillis(), marking: first).outbox.map(\.id)
            #expect(try await unsent(first) == 0, "marked by the next batch's transaction")
            _ = try await store.apply([], computedAtMillis: nowMillis(), marking: second)
            #expect(try await unsent(second) == 0, "marked by a batch with no event to apply")
            // The running calculator: its last batch's rows are marked although no batch follows.
            try await bench.movement(StockMovement(movementId: "k3", sku: "M", kind: .receipt, quantity: 1))
            #expect(try await eventually { try await bench.stock("M")?.onHand == 3 })
            #expect(try await eventually { try await bench.scalar("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0 })
            await db.close()
            await calculator.stop()
            await bench.tearDown()
        }
    }

    @Test func pipelinedBatchesApplyEveryEventOnceAndAckInOrder() async throws {
        try await TestServers.withDatabase { conninfo in
            // Small batches, three in flight, a poison message in the middle: every event applied once, the last
            // version of every SKU published, nothing left unacknowledged.
            let bench = try await TestBench(conninfo: conninfo, batchSize: 7, pipelineDepth: 3)
            let skus = (0..<10).map { "P\($0)" }
            try await bench.registerSkus(skus)
            for i in 0..<300 {
                if i == 150 { try await bench.shopify("orders/create", "{broken", webhookId: "poison") }
                try await bench.movement(StockMovement(movementId: "m\(i)", sku: skus[i % 10], kind: .receipt, quantity: 1))
            }
            let calculator = try await bench.startCalculator()
            #expect(try await eventually { try await bench.scalar("SELECT count(*) FROM processed_messages") == 301 })
            #expect(try await eventually { try await bench.scalar("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0 })
            for sku in skus { #expect(try await bench.stock(sku)?.onHand == 30) }
            try await bench.barrier()  // every batch has been settled: published, dead-lettered, acknowledged
            let messages = try await bench.availability()
            var newest: [String: AvailabilityMessage] = [:]
            for m in messages where m.version > newest[m.sku]?.version ?? .min { newest[m.sku] = m }
            for sku in skus {
                let stock = try #require(try await bench.stock(sku))
                #expect(newest[sku]?.version == stock.version && newest[sku]?.onHand == 30, "\(sku): last version published")
            }
            #expect(try await bench.drainAll(bench.deadQueue).count == 1)
            await calculator.stop()
            // Nothing was left unacknowledged: after the consumer is gone, the queue is empty.
            #expect(try await eventually { try await bench.client.queueInfo(bench.configuration.names.queue).messages == 0 })
            await bench.tearDown()
        }
    }

    @Test func anEditInTheSameSecondAsTheOrderIsAppliedAcrossBatches() async throws {
        try await TestServers.withDatabase { conninfo in
            let bench = try await TestBench(conninfo: conninfo, batchSize: 1)
            let calculator = try await bench.startCalculator()
            try await bench.registerSkus(["A"])
            func order(current: Int) -> String {
                """
                {"id": 77, "updated_at": "2024-05-01T12:00:00Z", "cancelled_at": null,
                 "line_items": [{"id": 1, "sku": "A", "quantity": 3, "current_quantity": \(current)}]}
                """
            }
            try await bench.shopify("orders/create", order(current: 3), webhookId: "c", triggeredAt: "2024-05-01T12:00:00.120Z")
            #expect(try await eventually { try await bench.stock("A")?.reserved == 3 })
            // Edited 600 ms later: the same updated_at second, a later trigger time; it lands in a later batch, so
            // the first trigger time must have been kept in the database.
            try await bench.shopify("orders/updated", order(current: 1), webhookId: "u", triggeredAt: "2024-05-01T12:00:00.720Z")
            #expect(try await eventually { try await bench.stock("A")?.reserved == 1 })
            // The create delivered again late changes nothing.
            try await bench.shopify("orders/create", order(current: 3), webhookId: "c2", triggeredAt: "2024-05-01T12:00:00.120Z")
            #expect(try await eventually { try await bench.scalar("SELECT count(*) FROM processed_messages") == 4 })
            #expect(try await bench.stock("A")?.reserved == 1)
            await calculator.stop()
            await bench.tearDown()
        }
    }

    @Test func poisonMessagesAreDeadLetteredWithAReasonAndTheRestOfTheBatchApplies() async throws {
        try await TestServers.withDatabase { conninfo in
            let bench = try await TestBench(conninfo: conninfo, batchSize: 50)
            try await bench.registerSkus(["A"])
            try await bench.movement(StockMovement(movementId: "m1", sku: "A", kind: .receipt, quantity: 5))
            try await bench.shopify("orders/create", "{broken", webhookId: "bad-json")
            try await bench.shopify("carts/create", "{}", webhookId: "bad-topic")
            try await bench.movement(StockMovement(movementId: "m2", sku: "NOPE", kind: .receipt, quantity: 1))
            try await bench.movement(StockMovement(movementId: "m3", sku: "A", kind: .receipt, quantity: 2))
            // All of it is waiting in the queue, so it arrives as one batch.
            let calculator = try await bench.startCalculator()
            #expect(try await eventually { try await bench.stock("A")?.onHand == 7 })
            try await bench.barrier()  // the batch has been settled: its poison is in the dead letters
            let dead = try await bench.drainAll(bench.deadQueue)
            let reasons = dead.compactMap { $0.properties.headers["x-stockwire-reason"]?.stringValue }
            #expect(reasons.count == 3)
            #expect(reasons.contains { $0.contains("not valid JSON") })
            #expect(reasons.contains { $0.contains("unknown topic") })
            #expect(reasons.contains { $0.contains("unknown SKU 'NOPE'") })
            // A rejected message is not recorded as applied: it can be replayed once the SKU exists.
            #expect(try await bench.scalar("SELECT count(*) FROM processed_messages WHERE message_id = 'warehouse/m2'") == 0)
            #expect(try await eventually { try await bench.client.queueInfo(bench.configuration.names.queue).messages == 0 })
            await calculator.stop()
            await bench.tearDown()
        }
    }

    @Test func twoCalculatorsOnOneQueueGiveTheSameResultAsThePlainModel() async throws {
        try await TestServers.withDatabase { conninfo in
            let bench = try await TestBench(conninfo: conninfo, batchSize: 50)
            let skus = (0..<8).map { "S\($0)" }
            try await bench.registerSkus(skus)
            let first = try await bench.startCalculator()
            let second = try await bench.startCalculator()
            #expect(try await eventually { try await bench.stock("S7") != nil })
            // A history of orders (snapshots with versions), receipts, shipments and refunds; some sent twice.
            var rng = SeededGenerator(seed: 42)
            var events: [(String, StockEvent, EventEnvelope)] = []
            var versions: [Int64: Int64] = [:]
            for i in 0..<600 {
                let order = Int64(rng.next() % 40) + 9_007_199_254_740_000
                let sku = skus[Int(rng.next() % UInt64(skus.count))]
                let q = Int64(rng.next() % 4) + 1
                switch rng.next() % 4 {
                case 0, 1:
                    let v = (versions[order] ?? 0) + 1
                    versions[order] = v
                    let cancelled = rng.next() % 10 == 0
                    let json = """
                        {"id": \(order), "updated_at": "2024-05-01T12:\(String(format: "%02d", v / 60)):\(String(format: "%02d", v % 60))Z",
                         "cancelled_at": \(cancelled ? "\"2024-05-01T13:00:00Z\"" : "null"),
                         "line_items": [{"id": \(order * 2), "sku": "\(skus[Int(order % 8)])", "quantity": \(q + 2), "current_quantity": \(q)}]}
                        """
                    let env = EventEnvelope(
                        source: .shopify, shop: "a.myshopify.com", topic: "orders/updated", deliveryId: "o\(i)",
                        receivedAtMillis: 1, body: Array(json.utf8))
                    events.append((env.messageId, try EventDecoder.decode(env), env))
                case 2:
                    let m = StockMovement(movementId: "r\(i)", sku: sku, kind: .receipt, quantity: q)
                    let env = EventEnvelope(
                        source: .warehouse, shop: nil, topic: "receipt", deliveryId: m.movementId, receivedAtMillis: 1,
                        body: m.json())
                    events.append((env.messageId, .movements([m]), env))
                default:
                    let m = StockMovement(
                        movementId: "s\(i)", sku: skus[Int(order % 8)], kind: .shipment, quantity: 1,
                        shop: "a.myshopify.com", orderId: order, lineItemId: order * 2)
                    let env = EventEnvelope(
                        source: .warehouse, shop: nil, topic: "shipment", deliveryId: m.movementId, receivedAtMillis: 1,
                        body: m.json())
                    events.append((env.messageId, .movements([m]), env))
                }
            }
            var deliveries = events.map(\.2)
            for e in events where rng.next() % 4 == 0 { deliveries.append(e.2) }
            deliveries.shuffle(using: &rng)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for chunk in stride(from: 0, to: deliveries.count, by: 50) {
                    let slice = Array(deliveries[chunk..<min(chunk + 50, deliveries.count)])
                    group.addTask { for env in slice { try await bench.publish(env) } }
                }
                try await group.waitForAll()
            }
            // The plain model, applied once per distinct message id in one order.
            var model = Make.state(skus: skus)
            for (id, event, _) in events { _ = model.apply(event, cause: Make.cause(id)) }
            let distinct = Int64(events.count + 1)
            let allApplied = try await eventually(timeout: .seconds(60)) {
                try await bench.scalar("SELECT count(*) FROM processed_messages") == distinct
            }
            if !allApplied {
                // Say where the missing ones are: never consumed, dead-lettered, or consumed and not applied.
                let db = try await PostgresConnection.connect(bench.conninfo)
                let applied = Set(
                    try await db.query("SELECT message_id FROM processed_messages").rows.map { try $0.decode(String.self, at: 0) }
                )
                let sessions = try await db.query(
                    """
                    SELECT coalesce(state, '') || ' ' || coalesce(wait_event_type, '-') || '/' || coalesce(wait_event, '-')
                        || ' xact ' || coalesce(round(extract(epoch FROM now() - xact_start))::text, '-') || ' s: '
                        || left(query, 120)
                    FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
                    """
                ).rows.map { try $0.decode(String.self, at: 0) }
                await db.close()
                Issue.record("database sessions: \(sessions.joined(separator: "\n"))")
                let missing = events.map(\.0).filter { !applied.contains($0) }
                let ready = try await bench.client.queueInfo(bench.configuration.names.queue)
                let dead = try await bench.client.queueInfo(bench.deadQueue)
                let where_ =
                    "events queue: \(ready.messages) ready, \(ready.consumers) consumers; dead letters: \(dead.messages)"
                Issue.record(
                    "\(missing.count) of \(events.count) events not applied after 60 s (\(missing.prefix(8))); \(where_)")
            }
            #expect(try await eventually { try await bench.client.queueInfo(bench.configuration.names.queue).messages == 0 })
            for sku in skus {
                let got = try #require(try await bench.stock(sku))
                let want = model.skus[sku] ?? SkuStock()
                #expect(got.onHand == want.onHand, "on_hand \(sku)")
                #expect(got.reserved == want.reserved, "reserved \(sku)")
                #expect(got.available == want.available, "available \(sku)")
            }
            // Lines agree with the SKU totals.
            #expect(
                try await bench.scalar(
                    "SELECT count(*) FROM skus s WHERE reserved <> (SELECT coalesce(sum(reserved), 0) FROM order_lines l WHERE l.sku = s.sku)"
                )
                    == 0)
            await first.stop()
            await second.stop()
            await bench.tearDown()
        }
    }

    @Test func killedBetweenCommitAndPublishTheAvailabilityStillArrives() async throws {
        try await TestServers.withDatabase { conninfo in
            let bench = try await TestBench(conninfo: conninfo)
            // The SKU first, applied by an in-process calculator that then stops.
            let setup = try await bench.startCalculator()
            try await bench.registerSkus(["K"])
            #expect(try await eventually { try await bench.stock("K") != nil })
            await setup.stop()

            try await bench.movement(StockMovement(movementId: "k1", sku: "K", kind: .receipt, quantity: 4))
            let process = try Self.launchCalculator(bench.configuration, crashAfterCommit: true)
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGKILL)
            // Committed but not published.
            #expect(try await bench.stock("K")?.onHand == 4)
            #expect(try await bench.scalar("SELECT count(*) FROM outbox WHERE sent_at IS NULL AND sku = 'K'") == 1)
            #expect(try await bench.client.queueInfo(bench.availabilityQueue).messages == 0)

            // A restart publishes from the outbox; the redelivered event is a duplicate.
            let restarted = try await bench.startCalculator()
            try await bench.barrier()  // the redelivered event has been handled, after the outbox was published
            let messages = try await bench.availability()
            #expect(messages.count == 1)
            #expect(messages.first?.sku == "K" && messages.first?.available == 4)
            #expect(messages.first?.causes == ["warehouse/k1"])
            #expect(try await eventually { try await bench.scalar("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0 })
            #expect(try await bench.stock("K")?.onHand == 4)
            await restarted.stop()
            await bench.tearDown()
        }
    }

    /// What an orchestrator relies on: SIGTERM stops `calculator run` promptly with exit status 0, periodic services
    /// (guard review, reconciliation) included. They slept through the graceful shutdown, and every stop of the
    /// process ended in SIGKILL after the grace period.
    @Test func sigtermStopsTheCalculatorProcessWithExitStatusZero() async throws {
        try await TestServers.withDatabase { conninfo in
            let bench = try await TestBench(conninfo: conninfo)
            let process = try Self.launchCalculator(
                bench.configuration, crashAfterCommit: false, environment: ["STOCKWIRE_CALCULATOR_RECONCILE_INTERVAL_S": "10"])
            defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
            // Running: its consumer is on the queue and an event is applied; the guard review goes round meanwhile.
            #expect(try await eventually { try await bench.client.queueInfo(bench.configuration.names.queue).consumers == 1 })
            try await bench.registerSkus(["S"])
            #expect(try await eventually { try await bench.stock("S") != nil })
            // The sleep is the scenario: the periodic services are in their waits when SIGTERM comes.
            try await Task.sleep(for: .seconds(1))

            let asked = ContinuousClock.now
            process.terminate()
            let exited = try await eventually(timeout: .seconds(10)) { !process.isRunning }
            #expect(exited, "calculator run still running 10 s after SIGTERM")
            if exited {
                #expect(process.terminationReason == .exit && process.terminationStatus == 0)
                #expect(ContinuousClock.now - asked < .seconds(5))
                #expect(try await eventually { try await bench.client.queueInfo(bench.configuration.names.queue).consumers == 0 })
            }
            await bench.tearDown()
        }
    }

    /// Starts the real `calculator run` executable with this test's settings (and `environment` on top).
    static func launchCalculator(
        _ c: CalculatorConfiguration, crashAfterCommit: Bool, environment: [String: String] = [:]
    ) throws -> Process {
        let binary = BuildProducts.executable("calculator")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw TestFailure("no calculator executable at \(binary.path): build it with the tests (swift build --build-tests)")
        }
        let p = Process()
        p.executableURL = binary
        p.arguments = ["run"]
        var env = ProcessInfo.processInfo.environment
        env["STOCKWIRE_POSTGRES"] = c.postgres
        env["STOCKWIRE_AMQP_URL"] = TestBroker.url
        env["STOCKWIRE_CALCULATOR_QUEUE"] = c.names.queue
        env["STOCKWIRE_EVENTS_EXCHANGE"] = c.names.eventsExchange
        env["STOCKWIRE_AVAILABILITY_EXCHANGE"] = c.names.availabilityExchange
        env["STOCKWIRE_CATALOG_EXCHANGE"] = c.names.catalogExchange
        env["STOCKWIRE_DEAD_EXCHANGE"] = c.names.deadExchange
        env["STOCKWIRE_CALCULATOR_OPS_PORT"] = "0"
        env["STOCKWIRE_CALCULATOR_OPS_HOST"] = "127.0.0.1"
        env["STOCKWIRE_LOG_LEVEL"] = "warning"
        if crashAfterCommit { env["STOCKWIRE_CALCULATOR_CRASH_AFTER_COMMIT"] = "1" }
        p.environment = env.merging(environment) { $1 }
        try p.run()
        return p
    }
}
