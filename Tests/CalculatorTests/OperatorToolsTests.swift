import AMQP
import Contracts
import Foundation
import HummingbirdTesting
import Logging
import Postgres
import ServiceKit
import StockwireTestSupport
import Testing

@testable import calculator

/// The operator tools of issue 9 against the real PostgreSQL and RabbitMQ: publish-all and resync requests,
/// explain (command and HTTP), replay from the event log, and the calculator's dead letters.
@Suite(.timeLimit(.minutes(3))) struct OperatorToolsIntegrationTests {
    // MARK: publish-all and resync

    @Test func publishAllReemitsEveryCurrentVersionFlaggedAsResync() async throws {
        try await TestServers.withDatabase { conninfo in
            let bench = try await TestBench(conninfo: conninfo)
            let calculator = try await bench.startCalculator()
            try await bench.registerSkus(["A", "B"])
            try await bench.movement(StockMovement(movementId: "m1", sku: "A", kind: .receipt, quantity: 10))
            #expect(try await eventually { try await bench.stock("A")?.onHand == 10 })
            try await bench.barrier()  // everything the events above published is in the watch queue
            let live = try await bench.availability()
            #expect(!live.isEmpty && live.allSatisfy { $0.sku == "A" })

            let db = try await PostgresConnection.connect(conninfo)
            let republisher = AvailabilityRepublisher(
                amqp: bench.client, store: StockStore(db: db, routes: .init(availabilityExchange: "", catalogExchange: "")),
                logger: TestServers.logger, pageSize: 1)
            let count = try await republisher.publishAll(to: .exchange(bench.configuration.names.availabilityExchange))
            #expect(count == 2, "every SKU, also one that never changed, page by page")
            let deliveries = try await bench.drainAll(bench.availabilityQueue)  // confirmed before publishAll returned
            let messages = try deliveries.map { try AvailabilityMessage.decode($0.body) }
            #expect(Set(messages.map(\.sku)) == ["A", "B"])
            let a = try #require(messages.first { $0.sku == "A" })
            let truth = try #require(try await bench.stock("A"))
            #expect(a.version == truth.version && a.available == 10, "the current version, not a new one")
            #expect(deliveries.allSatisfy { $0.properties.headers[StockwireTopology.resyncHeader] != nil })
            #expect(try await bench.stock("A")?.version == truth.version, "republishing changes nothing in the truth")
            await db.close()
            await calculator.stop()
            await bench.tearDown()
        }
    }

    /// `calculator availability`: what check-shop compares a shop with, page by page, in SKU order.
    @Test func availabilityListsEverySkusNumber() async throws {
        try await TestServers.withDatabase { conninfo in
            let bench = try await TestBench(conninfo: conninfo)
            let calculator = try await bench.startCalculator()
            try await bench.registerSkus(["P", "Q", "R"])
            try await bench.movement(StockMovement(movementId: "p1", sku: "P", kind: .receipt, quantity: 4))
            try await bench.movement(StockMovement(movementId: "r1", sku: "R", kind: .receipt, quantity: 9))
            #expect(try await eventually { try await bench.stock("R")?.onHand == 9 })
            #expect(try await eventually { try await bench.stock("P")?.onHand == 4 })
            let db = try await PostgresConnection.connect(conninfo)
            let store = StockStore(db: db, routes: .init(availabilityExchange: "", catalogExchange: ""))
            let all = try await CalculatorCommand.Availability.targets(store: store, shop: nil, pageSize: 2)
            #expect(all.map(\.0) == ["P", "Q", "R"] && all.map(\.1) == [4, 0, 9])
            let shop = try await CalculatorCommand.Availability.targets(store: store, shop: "a.myshopify.com", pageSize: 2)
            #expect(shop.map(\.1) == [4, 0, 9], "no guard: every shop's target is the available")
            await db.close()
            await calculator.stop()
            await bench.tearDown()
        }
    }

    @Test func aResyncRequestIsAnsweredToThatShopsQueueOnly() async throws {
        try await TestServers.withDatabase { conninfo in
            let bench = try await TestBench(conninfo: conninfo)
            let id = TestServers.unique("s").replacingOccurrences(of: "_", with: "-")  // a host name: no "_"
            let (shop, other) = ("\(id)-a.myshopify.com", "\(id)-b.myshopify.com")
            let queues = [shop, other].map { StockwireTopology.exporterQueue(shop: $0) }
            try await bench.client.declare(queues.map { .quorumQueue($0) })
            let calculator = try await bench.startCalculator()
            try await bench.registerSkus(["R1", "R2", "R3"])
            #expect(try await eventually { try await bench.scalar("SELECT count(*) FROM skus") == 3 })

            let request = ResyncRequest(shop: try ShopDomain(shop), requestedAtMillis: nowMillis())
            try await bench.client.publish(
                AMQPMessage(
                    exchange: "", routingKey: bench.configuration.names.requestQueue, body: try request.json(),
                    properties: AMQPProperties(type: ResyncRequest.messageType)))
            let delivered = try await bench.drain(queues[0], expecting: 3)
            #expect(Set(try delivered.map { try AvailabilityMessage.decode($0.body).sku }) == ["R1", "R2", "R3"])
            #expect(delivered.allSatisfy { $0.properties.headers[StockwireTopology.resyncHeader] != nil })
            // The barrier: a second request, for a third shop, answered. Requests are answered one at a time, in
            // order, so the first one's answer was complete before: whatever it sent elsewhere is in its queue.
            let marker = StockwireTopology.exporterQueue(shop: "\(id)-marker.myshopify.com")
            try await bench.client.declare([.quorumQueue(marker)])
            try await bench.client.publish(
                AMQPMessage(
                    exchange: "", routingKey: bench.configuration.names.requestQueue,
                    body: try ResyncRequest(shop: ShopDomain("\(id)-marker.myshopify.com"), requestedAtMillis: nowMillis())
                        .json(),
                    properties: AMQPProperties(type: ResyncRequest.messageType)))
            #expect(try await bench.drain(marker, expecting: 3).count >= 3)
            try? await bench.client.deleteQueue(marker)
            #expect(try await bench.client.queueInfo(queues[1]).messages == 0, "no other shop receives it")
            #expect(
                try await eventually { try await bench.client.queueInfo(bench.configuration.names.requestQueue).messages == 0 })

            for q in queues { try? await bench.client.deleteQueue(q) }
            await calculator.stop()
            await bench.tearDown()
        }
    }

    // MARK: explain

    @Test func explainShowsTheTruthTheOpenLinesAndTheCausesOfEachVersion() async throws {
        try await TestServers.withDatabase { conninfo in
            let bench = try await TestBench(conninfo: conninfo)
            let calculator = try await bench.startCalculator()
            try await bench.registerSkus(["X"])
            try await bench.movement(StockMovement(movementId: "rx", sku: "X", kind: .receipt, quantity: 10))
            #expect(try await eventually { try await bench.stock("X")?.onHand == 10 })
            let order = """
                {"id": 77, "updated_at": "2024-05-01T12:00:00Z", "cancelled_at": null,
                 "line_items": [{"id": 1, "sku": "X", "quantity": 3, "current_quantity": 3}]}
                """
            try await bench.shopify("orders/create", order, shop: "b.myshopify.com", webhookId: "wx")
            #expect(try await eventually { try await bench.stock("X")?.reserved == 3 })

            let db = try await PostgresConnection.connect(conninfo)
            let store = StockStore(db: db, routes: .init(availabilityExchange: "", catalogExchange: ""))
            let e = try #require(try await store.explain(sku: "X", limit: 10))
            #expect(e.available == 7 && e.onHand == 10 && e.reserved == 3 && e.version == 2)
            #expect(e.openLines == ["b.myshopify.com/77/1": 3])
            #expect(e.history.map(\.version) == [2, 1], "newest first")
            let sale = e.history[0]
            #expect(sale.available == 7 && sale.shopQuantities == ["b.myshopify.com": 3])
            #expect(sale.causes.map(\.messageId) == ["b.myshopify.com/wx"])
            #expect(sale.causes[0].shop == "b.myshopify.com" && sale.causes[0].receivedAtMillis != nil)
            #expect(sale.firstReceivedAtMillis != nil && sale.computedAtMillis >= sale.firstReceivedAtMillis!)
            #expect(e.history[1].causes.map(\.messageId) == ["warehouse/rx"] && e.history[1].causes[0].shop == nil)
            #expect(try await store.explain(sku: "NOPE", limit: 10) == nil)
            let text = e.rendered()
            #expect(text.contains("b.myshopify.com/wx") && text.contains("sold 3 in b.myshopify.com"))

            // The same over HTTP on the ops server.
            let app = OpsServer.application(
                host: "127.0.0.1", port: 0, logger: TestServers.logger,
                routes: { ExplainEndpoint.addRoutes(to: $0, store: store) }
            ) { nil }
            try await app.test(.router) { client in
                try await client.execute(uri: "/explain/X?limit=1", method: .get) { response in
                    #expect(response.status == .ok)
                    let decoded = try JSONDecoder().decode(SkuExplanation.self, from: Data(response.body.readableBytesView))
                    #expect(decoded.available == 7 && decoded.history.count == 1 && decoded.history[0].version == 2)
                }
                try await client.execute(uri: "/explain?sku=X", method: .get) { response in
                    #expect(response.status == .ok)
                }
                try await client.execute(uri: "/explain/NOPE", method: .get) { response in
                    #expect(response.status == .notFound)
                }
            }
            await db.close()
            await calculator.stop()
            await bench.tearDown()
        }
    }

    // MARK: replay from the event log

    @Test func replayIntoAnEmptyDatabaseRebuildsTheTruthIncludingOpenReservations() async throws {
        try await TestServers.withDatabase { conninfo in
            let bench = try await TestBench(conninfo: conninfo)
            let log = "calctest.log.\(TestServers.unique("l"))"
            try await bench.client.declare([
                .stream(log, maxAge: "1h", maxLengthBytes: 50_000_000),
                .binding(queue: log, exchange: bench.configuration.names.eventsExchange, routingKey: "#"),
            ])
            let calculator = try await bench.startCalculator()
            try await bench.registerSkus(["S1", "S2"])
            try await bench.movement(StockMovement(movementId: "r1", sku: "S1", kind: .receipt, quantity: 20))
            try await bench.movement(StockMovement(movementId: "r2", sku: "S2", kind: .receipt, quantity: 5))
            for (i, quantity) in [(1, 2), (2, 4)] {
                try await bench.shopify(
                    "orders/create",
                    """
                    {"id": \(i), "updated_at": "2024-05-01T12:00:0\(i)Z", "cancelled_at": null,
                     "line_items": [{"id": \(i)0, "sku": "S1", "quantity": \(quantity), "current_quantity": \(quantity)}]}
                    """, webhookId: "o\(i)")
            }
            // A shipment closes part of order 1; a duplicate delivery changes nothing.
            let shipment = StockMovement(
                movementId: "sh1", sku: "S1", kind: .shipment, quantity: 1, shop: "a.myshopify.com", orderId: 1, lineItemId: 10)
            try await bench.movement(shipment)
            try await bench.movement(shipment)
            #expect(try await eventually { try await bench.scalar("SELECT count(*) FROM processed_messages") == 6 })
            await calculator.stop()

            let original = try await Self.truth(conninfo)
            let originalVersions = try await Self.versions(conninfo)
            #expect(original.contains("S1 19 5 0"), "on_hand 19, reserved 2−1+4: \(original)")
            let live = try await bench.availability()  // the calculator has stopped: all it published is there
            #expect(!live.isEmpty, "drained what the live calculator published")
            try await TestServers.withDatabase { rebuilt in
                var configuration = bench.configuration
                configuration.postgres = rebuilt
                let report = try await CalculatorCommand.Replay.replay(
                    configuration: configuration, stream: log, from: .first, until: nil, batchSize: 1,
                    idle: .seconds(2), logger: TestServers.logger)
                #expect(report.read == 7 && report.applied == 6 && report.duplicates == 1, "\(report.summary)")
                #expect(report.lastOffset != nil)
                // The replay passed through every past value of S1 (20, 18, 14, 14) but publishes each changed SKU
                // once, at its value now (S1: 19 on hand − 5 reserved; S2: 5), after it caught up.
                // Confirmed before the replay returned: all it published is in the watch queue.
                let published = try await bench.availability()
                #expect(published.map(\.sku).sorted() == ["S1", "S2"], "each changed SKU once: \(published)")
                #expect(published.first { $0.sku == "S1" }?.available == 14 && published.first { $0.sku == "S2" }?.available == 5)
                #expect(report.publishedAtEnd == 2)
                #expect(
                    try await Self.unsentOutboxRows(rebuilt) == 0,
                    "its rows are marked sent: no running relay publishes the past either")
                #expect(try await Self.truth(rebuilt) == original, "rebuilt truth equals the original")
                let rebuiltVersions = try await Self.versions(rebuilt)
                for (sku, version) in originalVersions {
                    #expect(rebuiltVersions[sku, default: 0] >= version, "one event per batch: no version goes back")
                }

                let again = try await CalculatorCommand.Replay.replay(
                    configuration: configuration, stream: log, from: .offset(0), until: nil, batchSize: 100,
                    idle: .seconds(2), logger: TestServers.logger)
                #expect(again.read == 7 && again.applied == 0 && again.duplicates == 7, "\(again.summary)")
                #expect(try await Self.truth(rebuilt) == original)

                let partial = try await CalculatorCommand.Replay.replay(
                    configuration: configuration, stream: log, from: .offset(0), until: report.lastOffset! - 2,
                    batchSize: 100, idle: .seconds(2), logger: TestServers.logger)
                #expect(partial.read == 5, "--until-offset stops there: \(partial.summary)")
            }
            #expect(StreamReplay.Start("2025-11-28T09:00:00Z") != nil && StreamReplay.Start("12") == .offset(12))
            #expect(StreamReplay.Start("yesterday") == nil)
            try? await bench.client.deleteQueue(log)
            await bench.tearDown()
        }
    }

    @Test func snapshotPlusTheLogAfterItRebuildsTheTruthInAnEmptyDatabase() async throws {
        try await TestServers.withDatabase { conninfo in
            let bench = try await TestBench(conninfo: conninfo)
            let log = "calctest.log.\(TestServers.unique("l"))"
            try await bench.client.declare([
                .stream(log, maxAge: "1h", maxLengthBytes: 50_000_000),
                .binding(queue: log, exchange: bench.configuration.names.eventsExchange, routingKey: "#"),
            ])
            let calculator = try await bench.startCalculator()
            func order(_ id: Int, quantity: Int, cancelled: Bool = false, second: Int) -> String {
                """
                {"id": \(id), "updated_at": "2024-05-01T12:00:0\(second)Z", "cancelled_at": \(cancelled ? "\"2024-05-01T12:00:09Z\"" : "null"),
                 "line_items": [{"id": \(id)0, "sku": "S1", "quantity": \(quantity), "current_quantity": \(quantity)}]}
                """
            }
            try await bench.registerSkus(["S1", "S2"])
            try await bench.movement(StockMovement(movementId: "r1", sku: "S1", kind: .receipt, quantity: 20))
            try await bench.shopify("orders/create", order(1, quantity: 2, second: 1), webhookId: "o1")
            try await bench.shopify("orders/create", order(2, quantity: 4, second: 2), webhookId: "o2")
            #expect(try await eventually { try await bench.scalar("SELECT count(*) FROM processed_messages") == 4 })

            let db = try await PostgresConnection.connect(conninfo)
            let (document, summary) = try await Snapshot.take(db)
            await db.close()
            #expect(summary.rows["processed_messages"] == 4 && summary.rows["orders"] == 2 && summary.rows["skus"] == 2)

            // After the snapshot: order 2 is cancelled, a third order opens, goods arrive for S2.
            try await bench.shopify("orders/cancelled", order(2, quantity: 4, cancelled: true, second: 5), webhookId: "c2")
            try await bench.shopify("orders/create", order(3, quantity: 1, second: 6), webhookId: "o3")
            try await bench.movement(StockMovement(movementId: "r2", sku: "S2", kind: .receipt, quantity: 7))
            #expect(try await eventually { try await bench.scalar("SELECT count(*) FROM processed_messages") == 7 })
            await calculator.stop()
            let original = try await Self.truth(conninfo)
            #expect(original.contains("S1 20 3 0"), "reserved 2 + 1 (order 2 cancelled): \(original)")

            try await TestServers.withDatabase { rebuilt in
                let target = try await PostgresConnection.connect(rebuilt)
                try await Migrator.migrate(target, CalculatorSchema.migrations, logger: TestServers.logger)
                let restored = try await Snapshot.restore(document, into: target)
                #expect(restored.rows == summary.rows)
                #expect(try await Self.truth(rebuilt) != original, "the snapshot alone is the older truth")
                // Replaying the whole log: what the snapshot holds is a duplicate, the rest is applied once.
                var configuration = bench.configuration
                configuration.postgres = rebuilt
                let report = try await CalculatorCommand.Replay.replay(
                    configuration: configuration, stream: log, from: .first, until: nil, batchSize: 1,
                    idle: .seconds(2), logger: TestServers.logger)
                #expect(report.applied == 3 && report.duplicates == 4, "\(report.summary)")
                #expect(try await Self.truth(rebuilt) == original, "snapshot + log = the original truth")
                // A database that holds a truth is refused, and keeps it.
                do {
                    _ = try await Snapshot.restore(document, into: target)
                    Issue.record("a restore into a database with a truth must be refused")
                } catch let error as SnapshotError {
                    #expect(error.description.contains("already holds a truth"))
                }
                do {
                    _ = try await Snapshot.restore(Array(#"{"format": "something else"}"#.utf8), into: target)
                    Issue.record("a file that is not a snapshot must be refused")
                } catch let error as SnapshotError {
                    #expect(error.description.contains("not a Stockwire snapshot"))
                }
                #expect(try await Self.truth(rebuilt) == original)
                await target.close()
            }
            try? await bench.client.deleteQueue(log)
            await bench.tearDown()
        }
    }

    @Test func reconciliationRoundsSendEveryShopTheTruthAsAResyncAndOnlyOneInstanceRunsARound() async throws {
        try await TestServers.withDatabase { conninfo in
            let bench = try await TestBench(conninfo: conninfo)
            let calculator = try await bench.startCalculator()
            try await bench.registerSkus(["R1", "R2"])
            try await bench.movement(StockMovement(movementId: "r1", sku: "R1", kind: .receipt, quantity: 4))
            #expect(try await eventually { try await bench.scalar("SELECT count(*) FROM processed_messages") == 2 })
            try await bench.barrier()
            _ = try await bench.drainAll(bench.availabilityQueue)

            let db = try await PostgresConnection.connect(conninfo)
            let republisher = AvailabilityRepublisher(
                amqp: bench.client, store: StockStore(db: db, routes: .init(availabilityExchange: "", catalogExchange: "")),
                logger: TestServers.logger)
            func round(logger: Logger = TestServers.logger) -> Reconciliation {
                Reconciliation(
                    interval: .milliseconds(300), republisher: republisher,
                    availabilityExchange: bench.configuration.names.availabilityExchange, db: db, logger: logger)
            }
            // Another instance holds the lock: no round runs.
            let other = try await PostgresConnection.connect(conninfo)
            #expect(try await other.query("SELECT pg_try_advisory_lock($1::bigint)", [Reconciliation.lockId]).scalar(Bool.self))
            let log = LogCapture()
            let blocked = Task { try await round(logger: log.logger("reconciliation", level: .debug)).run() }
            // The barrier: two rounds came and skipped. Rounds follow one another, so the first had ended, whatever it
            // published confirmed, when the second began.
            #expect(try await eventually { log.count("reconciliation round skipped") >= 2 }, "\(log.text)")
            blocked.cancel()
            #expect(try await bench.client.queueInfo(bench.availabilityQueue).messages == 0, "the lock holder runs the round")
            _ = try await other.query("SELECT pg_advisory_unlock($1::bigint)", [Reconciliation.lockId])
            await other.close()

            let running = Task { try await round().run() }
            let delivered = try await bench.drain(bench.availabilityQueue, expecting: 4, timeout: .seconds(10))
            running.cancel()
            let flagged = delivered.filter { $0.properties.headers[StockwireTopology.resyncHeader] != nil }
            #expect(flagged.count == delivered.count && delivered.count >= 4, "two rounds or more, every message a resync")
            let truth = try Set(flagged.map { try AvailabilityMessage.decode($0.body) }.map { "\($0.sku) \($0.available)" })
            #expect(truth == ["R1 4", "R2 0"], "each round carries the truth of every SKU")
            await db.close()
            await calculator.stop()
            await bench.tearDown()
        }
    }

    @Test func explainShowsWhatEachShopWasLastWrittenFromTheExportersReports() async throws {
        try await TestServers.withDatabase { conninfo in
            let bench = try await TestBench(conninfo: conninfo)
            let calculator = try await bench.startCalculator()
            try await bench.registerSkus(["W1"])
            try await bench.movement(StockMovement(movementId: "r1", sku: "W1", kind: .receipt, quantity: 9))
            #expect(try await eventually { try await bench.stock("W1")?.onHand == 9 })
            let db = try await PostgresConnection.connect(conninfo)
            let store = StockStore(db: db, routes: .init(availabilityExchange: "", catalogExchange: ""))
            let consumer = WriteReportConsumer(
                queue: bench.configuration.names.writesQueue, amqp: bench.client, store: store,
                relay: OutboxRelay(amqp: bench.client, store: store, metrics: CalculatorMetrics(), logger: TestServers.logger),
                logger: TestServers.logger)
            let running = Task { try await consumer.run() }
            func report(_ shop: String, version: Int64, value: Int64, at: Int64) async throws {
                let body = try WriteReport(
                    shop: try ShopDomain(shop),
                    writes: [
                        .init(sku: "W1", version: version, value: value, writtenAtMillis: at, firstReceivedAtMillis: at - 40)
                    ]
                ).json()
                try await bench.client.publish(
                    AMQPMessage(
                        exchange: bench.configuration.names.writesExchange, routingKey: shop, body: body,
                        properties: AMQPProperties(type: WriteReport.messageType)))
            }
            try await report("a.myshopify.com", version: 1, value: 9, at: 1_000_000)
            try await report("a.myshopify.com", version: 2, value: 8, at: 1_000_500)
            try await report("b.myshopify.com", version: 2, value: 9, at: 1_000_700)
            try await report("a.myshopify.com", version: 1, value: 9, at: 1_000_000)  // repeated: changes nothing
            try await bench.client.publish(
                AMQPMessage(exchange: bench.configuration.names.writesExchange, routingKey: "x", body: Array("nonsense".utf8)))
            #expect(try await eventually { try await bench.scalar("SELECT count(*) FROM shop_writes") == 3 })
            let explained = try #require(try await store.explain(sku: "W1", limit: 5))
            #expect(
                explained.shops == [
                    .init(
                        shop: "a.myshopify.com", version: 2, value: 8, writtenAtMillis: 1_000_500,
                        firstReceivedAtMillis: 1_000_460),
                    .init(
                        shop: "b.myshopify.com", version: 2, value: 9, writtenAtMillis: 1_000_700,
                        firstReceivedAtMillis: 1_000_660),
                ])
            #expect(explained.shops.first?.latencyMillis == 40)
            #expect(explained.rendered().contains("a.myshopify.com: 8 (v2)"))
            #expect(
                try await eventually { try await bench.client.queueInfo(bench.configuration.names.writesQueue).messages == 0 },
                "the unreadable report is dropped, not stuck")
            running.cancel()
            await db.close()
            await calculator.stop()
            await bench.tearDown()
        }
    }

    /// Every row of the truth that matters, as sorted text lines.
    static func truth(_ conninfo: String) async throws -> [String] {
        let db = try await PostgresConnection.connect(conninfo)
        var lines: [String] = []
        for row in try await db.query("SELECT sku, on_hand, reserved, safety_stock FROM skus ORDER BY sku") {
            lines.append(
                "\(try row.decode(String.self, at: 0)) \(try row.decode(Int64.self, at: 1)) \(try row.decode(Int64.self, at: 2)) "
                    + "\(try row.decode(Int64.self, at: 3))")
        }
        for row in try await db.query(
            "SELECT shop, order_id, line_id, sku, quantity, shipped, reserved FROM order_lines ORDER BY 1, 2, 3")
        {
            lines.append(
                (0..<7).map { i in (try? row.decode(String?.self, at: i)).flatMap { $0 } ?? "-" }.joined(separator: " "))
        }
        for row in try await db.query("SELECT sku, warehouse, on_hand FROM stock_levels ORDER BY 1, 2") {
            lines.append(
                "level \(try row.decode(String.self, at: 0)) \(try row.decode(String.self, at: 1)) \(try row.decode(Int64.self, at: 2))"
            )
        }
        for row in try await db.query("SELECT shop, variant_id, sku FROM variants ORDER BY 1, 2") {
            lines.append(
                "variant \(try row.decode(String.self, at: 0)) \(try row.decode(Int64.self, at: 1)) \(try row.decode(String?.self, at: 2) ?? "-")"
            )
        }
        await db.close()
        return lines
    }

    /// Every SKU's version.
    static func unsentOutboxRows(_ conninfo: String) async throws -> Int64 {
        let db = try await PostgresConnection.connect(conninfo)
        let count = try await db.query("SELECT count(*) FROM outbox WHERE sent_at IS NULL").scalar(Int64.self)
        await db.close()
        return count
    }

    static func versions(_ conninfo: String) async throws -> [String: Int64] {
        let db = try await PostgresConnection.connect(conninfo)
        var out: [String: Int64] = [:]
        for row in try await db.query("SELECT sku, version FROM skus") {
            out[try row.decode(String.self, at: 0)] = try row.decode(Int64.self, at: 1)
        }
        await db.close()
        return out
    }

    // MARK: dead letters

    @Test func deadLettersAreListedAndReplayedToTheEventsExchangeWithTheirRoutingKey() async throws {
        try await TestServers.withDatabase { conninfo in
            let bench = try await TestBench(conninfo: conninfo)
            let calculator = try await bench.startCalculator()
            try await bench.movement(StockMovement(movementId: "early", sku: "LATE", kind: .receipt, quantity: 4))
            var queue = DeadLetterQueue.calculator(
                queue: bench.configuration.names.queue, eventsExchange: bench.configuration.names.eventsExchange,
                connection: bench.client)
            queue.idleTimeout = .seconds(1)
            #expect(try await eventually { try await queue.info().messages == 1 })

            let listing = try await queue.list()
            #expect(try await queue.info().messages == 1, "listing loses nothing")
            let letter = try #require(listing.letters.first)
            #expect(letter.messageId == "warehouse/early")
            #expect(letter.eventRoutingKey == "warehouse.receipt")
            #expect(letter.reason.source == .service && letter.reason.text.contains("unknown SKU 'LATE'"))
            let text = CalculatorCommand.DeadLetters.render(listing)
            #expect(text.contains("warehouse.receipt") && text.contains("warehouse/early"))

            // Fix the cause, then replay: the event is applied.
            try await bench.registerSkus(["LATE"])
            #expect(try await eventually { try await bench.stock("LATE") != nil })
            let result = try await queue.replay(.all)
            #expect(result.replayed == 1)
            #expect(try await eventually { try await bench.stock("LATE")?.onHand == 4 })
            #expect(try await eventually { try await queue.info().messages == 0 })

            #expect(throws: (any Error).self) { try CalculatorCommand.parseAsRoot(["dead-letters", "purge"]) }
            #expect(try CalculatorCommand.parseAsRoot(["dead-letters", "purge", "--yes"]) is CalculatorCommand.DeadLetters.Purge)
            #expect(throws: (any Error).self) { try CalculatorCommand.parseAsRoot(["dead-letters", "replay"]) }
            await calculator.stop()
            await bench.tearDown()
        }
    }
}
