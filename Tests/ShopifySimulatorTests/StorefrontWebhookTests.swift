import Foundation
import ShopifySimulator
import Signing
import Testing

@Suite struct StorefrontWebhookTests {
    /// A receiver plus a simulator sending to it; both shut down afterwards.
    func withReceiver(
        topicsA: Set<String>? = nil, _ body: (Simulator, WebhookRecorder) async throws -> Void
    ) async throws {
        let receiver = try await WebhookRecorder.start()
        do {
            try await withSimulator(ingestURL: receiver.url, topicsA: topicsA) { sim in try await body(sim, receiver) }
        } catch {
            await receiver.shutdown()
            throw error
        }
        await receiver.shutdown()
    }

    @Test func checkoutRefusesBeyondStockAndLowersAtOnce() async throws {
        try await withSimulator { sim in
            _ = try await sim.createVariant(shop: shopA, sku: "LAST", available: 2)
            await #expect(throws: SimulatorError.self) { try await sim.checkout(shop: shopA, sku: "LAST", quantity: 3) }
            let order = try await sim.checkout(shop: shopA, sku: "LAST", quantity: 2, buyer: "a@example.com")
            #expect(try await sim.levels(shop: shopA)["LAST"] == 0)
            #expect(order.id > 9_007_199_254_740_992)
            #expect(order.lineItems.first?.currentQuantity == 2)
            // Over HTTP: 409 when not enough stock.
            let refused = try await http(
                .POST, "\(sim.baseURL)/_control/shops/\(shopA)/checkout", body: ["sku": "LAST", "quantity": 1])
            #expect(refused.status == 409)
            #expect(refused.json["error"]?.stringValue == "insufficientStock")
            // The order JSON keeps the 64-bit id exact.
            let orders = try await http(.GET, "\(sim.baseURL)/_control/shops/\(shopA)/orders")
            #expect(orders.text.contains("\"id\":\(order.id)"))
            let levels = try await http(.GET, "\(sim.baseURL)/_control/shops/\(shopA)/levels")
            #expect(levels.json == ["LAST": 0])
        }
    }

    @Test func levelHistoryNamesTheCauseOfEveryChange() async throws {
        try await withSimulator { sim in
            let variant = try await sim.createVariant(shop: shopA, sku: "H", available: 5)
            let order = try await sim.checkout(shop: shopA, sku: "H", quantity: 2)
            _ = try await sim.cancelOrder(shop: shopA, orderID: order.id)
            try await sim.setAvailable(shop: shopA, sku: "H", available: 9)
            let history = try await sim.levelHistory(shop: shopA)
            #expect(history.map(\.inventoryItemId) == Array(repeating: variant.inventoryItemId, count: 3))
            #expect(history.map { "\($0.before)→\($0.after) \($0.cause)" } == [
                "5→3 order \(order.id) placed", "3→5 order \(order.id) cancelled", "5→9 admin edit",
            ])
            let served = try await http(.GET, "\(sim.baseURL)/_control/shops/\(shopA)/level-history")
            #expect(served.json.arrayValue?.count == 3)
        }
    }

    @Test func webhooksAreSignedAndCarryShopifyHeaders() async throws {
        try await withReceiver { sim, receiver in
            let tee = try await sim.createVariant(shop: shopA, sku: "TEE", available: 5)
            let order = try await sim.checkout(shop: shopA, sku: "TEE", quantity: 2)
            // createVariant announced the product (products/create); the checkout sends two more.
            let deliveries = await receiver.wait(for: 2) { $0.header("X-Shopify-Topic") != "products/create" }
            #expect(deliveries.count == 2)
            for delivery in deliveries {
                let signature = try #require(delivery.header("X-Shopify-Hmac-Sha256"))
                #expect(WebhookSignature.isValid(signature: signature, body: delivery.body, secrets: [Array(secretA.utf8)]))
                #expect(delivery.header("X-Shopify-Shop-Domain") == shopA)
                #expect(delivery.header("X-Shopify-API-Version") == "2026-10")
                #expect(delivery.header("X-Shopify-Webhook-Id") != nil)
                #expect(delivery.header("X-Shopify-Event-Id") != nil)
                #expect(delivery.header("X-Shopify-Triggered-At") != nil)
            }
            let create = try #require(deliveries.first { $0.header("X-Shopify-Topic") == "orders/create" })
            #expect(String(decoding: create.body, as: UTF8.self).contains("\"id\":\(order.id)"))
            #expect(create.json.at("line_items.0.sku") == "TEE")
            #expect(create.json["cancelled_at"] == .null)
            let level = try #require(deliveries.first { $0.header("X-Shopify-Topic") == "inventory_levels/update" })
            #expect(level.json["available"] == .int(3))
            #expect(level.json["inventory_item_id"] == .int(tee.inventoryItemId))
            #expect(level.json["location_id"] == .int(70_001))
            // Our own Admin write comes back as inventory_levels/update too.
            _ = try await graphQL(sim, setQuantitiesMutation, setInput([quantity(tee, 9, from: 3)]))
            let echo = await receiver.wait(for: 2) { $0.header("X-Shopify-Topic") == "inventory_levels/update" }
            #expect(echo.last?.json["available"] == .int(9))
        }
    }

    @Test func aShopSendsOnlyTheTopicsItIsSubscribedTo() async throws {
        try await withReceiver(topicsA: ["orders/create"]) { sim, receiver in
            let tee = try await sim.createVariant(shop: shopA, sku: "TEE", available: 5)
            _ = try await sim.createVariant(shop: shopB, sku: "TEE", available: 5)
            _ = try await sim.checkout(shop: shopA, sku: "TEE", quantity: 1)
            _ = try await sim.checkout(shop: shopB, sku: "TEE", quantity: 1)
            _ = try await graphQL(sim, setQuantitiesMutation, setInput([quantity(tee, 9, from: 4)]))
            #expect(await sim.waitForWebhooks())
            func topics(_ shop: String) -> [String] {
                receiver.deliveries.filter { $0.header("X-Shopify-Shop-Domain") == shop }.compactMap { $0.header("X-Shopify-Topic") }
            }
            // Shop A: neither products/create, nor the checkout's level change, nor the echo of the Admin write.
            #expect(topics(shopA) == ["orders/create"])
            // Shop B subscribes to everything (no list): all three.
            #expect(Set(topics(shopB)) == ["products/create", "orders/create", "inventory_levels/update"])
            #expect(try await sim.levels(shop: shopA)["TEE"] == 9)
        }
    }

    @Test func failedDeliveryIsRetriedWithTheSameWebhookID() async throws {
        try await withReceiver { sim, receiver in
            _ = try await sim.createVariant(shop: shopA, sku: "TEE", available: 5)
            #expect(await sim.waitForWebhooks())  // products/create, answered 200
            receiver.respond(with: [500, 302])
            try await sim.setAvailable(shop: shopA, sku: "TEE", available: 4)
            let attempts = await receiver.wait(for: 3) { $0.header("X-Shopify-Topic") != "products/create" }
            #expect(attempts.count == 3)
            #expect(Set(attempts.compactMap { $0.header("X-Shopify-Webhook-Id") }).count == 1)
            #expect(Set(attempts.map(\.body)).count == 1)
            #expect(await sim.waitForWebhooks())
            let log = sim.webhookDeliveries().filter { $0.topic != "products/create" }
            #expect(log.map(\.status) == [500, 302, 200])
            #expect(log.map(\.outcome) == ["retrying", "retrying", "delivered"])
        }
    }

    @Test func injectedDuplicateHasANewWebhookIDAndTheSameEventID() async throws {
        try await withReceiver { sim, receiver in
            _ = try await sim.createVariant(shop: shopA, sku: "TEE", available: 5)
            #expect(await sim.waitForWebhooks())  // products/create, before duplicates are switched on
            sim.setWebhookFaults(WebhookFaults(duplicateRate: 1))
            try await sim.setAvailable(shop: shopA, sku: "TEE", available: 1)
            let copies = await receiver.wait(for: 2) { $0.header("X-Shopify-Topic") != "products/create" }
            #expect(copies.count == 2)
            #expect(Set(copies.compactMap { $0.header("X-Shopify-Webhook-Id") }).count == 2)
            #expect(Set(copies.compactMap { $0.header("X-Shopify-Event-Id") }).count == 1)
            #expect(copies[0].body == copies[1].body)
        }
    }

    @Test func cancelEditAndRefundMoveStockAndNotify() async throws {
        try await withReceiver { sim, receiver in
            _ = try await sim.createVariant(shop: shopA, sku: "TEE", available: 10)
            let order = try await sim.checkout(shop: shopA, sku: "TEE", quantity: 4)
            let line = try #require(order.lineItems.first)
            let edited = try await sim.editOrder(shop: shopA, orderID: order.id, lineItemID: line.id, currentQuantity: 3)
            #expect(edited.lineItems[0].currentQuantity == 3 && edited.lineItems[0].quantity == 4)
            #expect(try await sim.levels(shop: shopA)["TEE"] == 7)
            let refund = try await sim.refund(shop: shopA, orderID: order.id, lineItemID: line.id, quantity: 1, restockType: .cancel)
            #expect(refund.refundLineItems.first?.restockType == "cancel")
            #expect(try await sim.levels(shop: shopA)["TEE"] == 8)
            let cancelled = try await sim.cancelOrder(shop: shopA, orderID: order.id)
            #expect(cancelled.cancelledAt != nil)
            #expect(try await sim.levels(shop: shopA)["TEE"] == 10)
            #expect(await sim.waitForWebhooks())
            let topics = receiver.deliveries.compactMap { $0.header("X-Shopify-Topic") }
            for topic in ["orders/create", "orders/edited", "refunds/create", "orders/cancelled", "orders/updated"] {
                #expect(topics.contains(topic), "missing \(topic)")
            }
            #expect(topics.filter { $0 == "inventory_levels/update" }.count == 4)
        }
    }

    @Test func controlAPIFaultsAndWriteLogOverHTTP() async throws {
        try await withSimulator { sim in
            let base = "\(sim.baseURL)/_control"
            let created = try await http(.POST, "\(base)/shops/\(shopA)/variants", body: ["sku": "X", "available": 3])
            #expect(created.status == 201)
            #expect(created.json["inventoryItemId"]?.intValue != nil)
            let shops = try await http(.GET, "\(base)/shops")
            #expect(shops.json.arrayValue?.count == 2)
            #expect(!shops.text.contains(tokenA))
            let faults = try await http(.PUT, "\(base)/shops/\(shopA)/faults", body: ["tokenRevoked": true])
            #expect(faults.json["tokenRevoked"] == true)
            #expect(try await graphQL(sim, "{ locations(first: 1) { nodes { id } } }").status == 401)
            let writes = try await http(.GET, "\(base)/shops/\(shopA)/writes")
            #expect(writes.json.at("0.result") == "unauthorized")
            let unknown = try await http(.GET, "\(base)/shops/nope.myshopify.com/levels")
            #expect(unknown.status == 404)
        }
    }
}

/// Several ingest instances behind one endpoint, as a load balancer spreads Shopify's deliveries.
@Suite struct SeveralIngestInstancesTests {
    @Test func deliveriesSpreadOverTheInstancesAndSkipOneThatIsDown() async throws {
        let a = try await WebhookRecorder.start()
        let b = try await WebhookRecorder.start()
        let down = try await WebhookRecorder.start()
        let downURL = down.url
        await down.shutdown()
        let sim = try await Simulator.start(
            SimulatorConfiguration(
                shops: [ShopConfiguration(domain: shopA, accessToken: tokenA, webhookSecret: secretA)],
                ingestURL: a.url, moreIngestURLs: [downURL, b.url]))
        for i in 0..<30 { _ = try await sim.createVariant(shop: shopA, sku: "S\(i)", available: 1) }
        #expect(await sim.waitForWebhooks())
        let log = sim.webhookDeliveries()
        #expect(log.count == 30)
        #expect(log.allSatisfy { $0.outcome == "delivered" && $0.attempt == 1 }, "an instance that is down costs no retry")
        #expect(a.deliveries.count + b.deliveries.count == 30)
        #expect(a.deliveries.count >= 10 && b.deliveries.count >= 10, "round-robin: \(a.deliveries.count) and \(b.deliveries.count)")
        await sim.shutdown()
        await a.shutdown()
        await b.shutdown()
    }
}
