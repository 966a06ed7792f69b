import AMQP
import Foundation

/// The `poison` fault.
struct Poison: FaultDefinition {
    let summary = """
        Bad messages straight into the broker (bad JSON, not an envelope, unknown SKU, absurd quantity, an unreadable \
        availability message, an unlisted SKU) and a SKU whose every write the shop refuses.
        """

    /// Poison into the calculator's input and into a shop's queue, and a SKU shop A refuses every write of; the
    /// calculator is restarted if it dies (as an orchestrator would), until the poison has been dead-lettered.
    func inject(_ c: BlackFriday.LoadContext, _ injector: FaultInjector) async throws {
        let shop = injector.stack.domains[0]
        let run = injector.stack.runId
        let queue = "exporter.\(shop)"

        // A SKU shop A stocks only at a second location, which the exporter does not write: Shopify refuses every
        // write of it (ITEM_NOT_STOCKED_AT_LOCATION), the other shops do not list it.
        let refused = "PX-\(run)-refused"
        let location = try await c.sim.addLocation(shop: shop, name: "Second store")
        try await c.sim.createVariant(shop: shop, sku: refused, available: 0, locationID: location, title: "Refused")
        let registered = try await pollUntil(seconds: 20, every: .milliseconds(200)) {
            try await injector.stack.truths(prefix: refused)[refused] != nil
        }
        guard registered else { throw ScenarioError("the calculator did not register \(refused) within 20 s") }
        try await c.warehouse.send([Movement(id: "px-\(run)-refused-receipt", sku: refused, kind: "receipt", quantity: 5)])
        await injector.injection.expectExporterDeadLetters(shop: shop, prefix: "\(refused)/")
        await injector.note("\(refused): stocked in \(shop) at a location the exporter does not write; 5 units received")

        let amqp = try scenarioConnection(injector.stack.amqpURL, purpose: "poison")
        defer { Task { await amqp.close() } }
        try await amqp.waitUntilConnected(timeout: .seconds(10))
        try await injector.at(c, injector.load.seconds * 0.3)

        // Straight to the events exchange, as if ingest had accepted them.
        func envelope(source: String, topic: String, delivery: String, shop: String?) -> [String: AMQPValue] {
            var h: [String: AMQPValue] = [
                "x-schema-version": .int64(1), "source": .string(source), "topic": .string(topic),
                "delivery-id": .string(delivery), "received-at-ms": .int64(Int64(Date().timeIntervalSince1970 * 1000)),
            ]
            if let shop { h["shop"] = .string(shop) }
            return h
        }
        let badJSON = "px-\(run)-bad-json"
        let notEnvelope = "px-\(run)-not-an-envelope"
        let unknownSku = "px-\(run)-unknown-sku"
        let absurd = "px-\(run)-absurd-quantity"
        let absurdOrder = """
            {"id":\(Int64(1) << 60),"updated_at":"2030-01-01T00:00:00Z","cancelled_at":null,"line_items":[{"id":\(Int64(1) << 60),\
            "sku":"\(c.skus[0])","quantity":\(Int64.max),"current_quantity":\(Int64.max)}]}
            """
        let events: [(id: String, key: String, body: String, headers: [String: AMQPValue], what: String)] = [
            (
                "\(shop)/\(badJSON)", "shopify.orders.create", "{\"id\": 1, \"line_items\": [",
                envelope(source: "shopify", topic: "orders/create", delivery: badJSON, shop: shop),
                "an orders/create that is not JSON"
            ),
            (notEnvelope, "shopify.orders.create", "\u{1}\u{2} not an event", [:], "a message without the event headers"),
            (
                "warehouse/\(unknownSku)", "warehouse.receipt",
                #"{"movement_id":"\#(unknownSku)","sku":"PX-\#(run)-unknown","kind":"receipt","quantity":3}"#,
                envelope(source: "warehouse", topic: "receipt", delivery: unknownSku, shop: nil), "a receipt of an unknown SKU"
            ),
            (
                "\(shop)/\(absurd)", "shopify.orders.create", absurdOrder,
                envelope(source: "shopify", topic: "orders/create", delivery: absurd, shop: shop),
                "an order of \(Int64.max) units of \(c.skus[0]), the busiest SKU"
            ),
        ]
        for e in events {
            try await amqp.publish(
                AMQPMessage(
                    exchange: "stockwire.events", routingKey: e.key, body: Array(e.body.utf8),
                    properties: AMQPProperties(
                        contentType: "application/json", messageId: e.id, type: "stockwire.event", headers: e.headers)),
                timeout: .seconds(10))
            await injector.injection.record(e.id, accepted: false)
            await injector.injection.expectCalculatorDeadLetter(e.id)
            await injector.note("published to stockwire.events: \(e.what)")
        }

        // Straight to shop A's queue: an availability message that is not JSON (dead-lettered), and one of a SKU the
        // shop does not list (skipped and acknowledged, not dead-lettered).
        let badAvailability = "px-\(run)-availability-bad-json"
        let unlisted = "px-\(run)-availability-unlisted"
        let unlistedBody =
            #"{"available":4,"causes":["px"],"computed_at_ms":\#(Int64(Date().timeIntervalSince1970 * 1000)),"on_hand":4,"#
            + #""reserved":0,"schema_version":1,"sku":"PX-\#(run)-unlisted","version":1}"#
        for (id, body, what) in [
            (badAvailability, "{\"sku\": ", "an availability message that is not JSON"),
            (unlisted, unlistedBody, "an availability message of a SKU the shop does not list"),
        ] {
            try await amqp.publish(
                AMQPMessage(
                    exchange: "", routingKey: queue, body: Array(body.utf8),
                    properties: AMQPProperties(
                        contentType: "application/json", messageId: id, type: "stockwire.availability",
                        headers: ["x-schema-version": .int64(1)])),
                timeout: .seconds(10))
            await injector.note("published to \(queue): \(what)")
        }
        await injector.injection.expectExporterDeadLetter(shop: shop, id: badAvailability)

        // Supervise the calculator as an orchestrator would (a crashed pod is started again, without waiting for it
        // to be ready) until the load is over and the poison is in the dead-letter queues.
        let wanted = await injector.injection.expected.calculator.count
        let deadline = c.start.addingTimeInterval(injector.load.seconds + 30)
        var crashes = 0
        while Date() < deadline {
            if !injector.stack.isRunning(.calculator) {
                crashes += 1
                await injector.note(
                    "calculator exited with status \(injector.stack.process(.calculator)?.terminationStatus ?? -1) (crash \(crashes)): restarting"
                )
                try await injector.restart(.calculator, waitReady: false)
            }
            let queues = try await injector.admin.queues(virtualHost: injector.virtualHost)
            let calculatorDead = queues.first { $0.name == "dead.calculator.events" }?.messages ?? 0
            let exporterDead = queues.first { $0.name == "dead.\(queue)" }?.messages ?? 0
            if Date() > c.start.addingTimeInterval(injector.load.seconds), calculatorDead >= wanted, exporterDead >= 2 {
                await injector.note("dead letters: \(calculatorDead) of the calculator, \(exporterDead) of \(shop)")
                return
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        await injector.note("the poison was not all dead-lettered within 30 s of the load's end")
    }
}
