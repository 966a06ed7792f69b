import AMQP
import ExporterCore
import Logging
import StockwireTestSupport
import Testing

@testable import exporter

/// A shop in memory behind the platform seam (issue #20): each call first throws the next scripted failure, then
/// answers from what the shop lists.
actor InMemoryShop: ShopPlatformClient {
    var failures: [ShopPlatform.Failure]
    let variantsBySKU: [String: [ShopPlatform.Variant]]
    let shopLocations: [ShopPlatform.Location]
    var levelsHeld: [String: Int64] = [:]
    /// The calls received, by name, in order.
    private(set) var calls: [String] = []

    init(
        failures: [ShopPlatform.Failure] = [], variants: [String: [ShopPlatform.Variant]] = [:],
        locations: [ShopPlatform.Location] = []
    ) {
        self.failures = failures
        self.variantsBySKU = variants
        self.shopLocations = locations
    }

    private func take(_ call: String) throws {
        calls.append(call)
        if !failures.isEmpty { throw failures.removeFirst() }
    }

    func write(
        _ quantities: [ShopPlatform.Quantity], reason: String, reference: String, idempotencyKey: String
    ) async throws -> (ShopPlatform.WriteOutcome, ShopPlatform.CostReport?) {
        try take("write")
        for q in quantities { levelsHeld[q.inventoryItemId] = q.quantity }
        return (.answered([]), nil)
    }

    func levels(items: [String], locationId: String) async throws -> ([String: Int64], ShopPlatform.CostReport?) {
        try take("levels")
        return (levelsHeld.filter { items.contains($0.key) }, nil)
    }

    func variants(sku: String) async throws -> ([ShopPlatform.Variant], ShopPlatform.CostReport?) {
        try take("variants")
        return (variantsBySKU[sku] ?? [], nil)
    }

    func locations() async throws -> [ShopPlatform.Location] {
        try take("locations")
        return shopLocations
    }
}

/// The writer's calls to a shop through the platform seam, with no broker and no Shopify: the writer is given an
/// in-memory shop and a broker connection that is never started (the paths here do not publish).
@Suite(.timeLimit(.minutes(1))) struct ShopWriterPlatformTests {
    let logs = LogCapture()

    func writer(_ shop: InMemoryShop, locationId: String? = nil) -> ShopWriter {
        var tuning = ShopWriter.Tuning()
        tuning.pauseRetry = .milliseconds(10)
        tuning.maxPause = .milliseconds(40)
        let settings = ShopSettings(domain: "memory.example", tokenFile: "/nonexistent", locationId: locationId)
        let connection = AMQPConnection(configuration: AMQPConfiguration(port: 1), logger: logs.logger("amqp"))
        return ShopWriter(shop: settings, client: shop, connection: connection, tuning: tuning, logger: logs.logger("writer"))
    }

    @Test func aSKUIsResolvedThroughThrottlingAndATransientFailure() async throws {
        let variant = ShopPlatform.Variant(id: "v1", sku: "TEE", inventoryItemId: "item-1", tracked: true)
        let shop = InMemoryShop(
            failures: [.throttled(retryAfter: .milliseconds(5), status: nil), .transient("connection reset")],
            variants: ["TEE": [variant]])
        let writer = writer(shop)
        #expect(await writer.resolveItems(sku: "TEE") == ["item-1"])
        #expect(await shop.calls == ["variants", "variants", "variants"])
        #expect(logs.count("shop call failed, retrying") == 1)
        #expect(await writer.readiness == nil)
    }

    @Test func aRefusedShopIsPausedOnceAndResumesWhenItAnswers() async throws {
        let refusal = ShopPlatform.Refusal(name: "frozen", reason: "shop frozen by its platform")
        let location = ShopPlatform.Location(id: "loc-1", name: "Warehouse", isActive: true, fulfillsOnlineOrders: true)
        let shop = InMemoryShop(
            failures: [.refused(refusal), .refused(refusal), .unauthorized], locations: [location])
        let writer = writer(shop)
        #expect(await writer.resolveLocation() == "loc-1")
        #expect(await shop.calls == ["locations", "locations", "locations", "locations"])
        #expect(logs.count("shop paused: shop frozen by its platform") == 1, "announced once per reason")
        #expect(logs.count("shop paused: Admin API token refused (401)") == 1)
        #expect(logs.count("shop answers again: resuming") == 1)
        #expect(await writer.readiness == nil)
    }

    @Test func aWriteWithoutALeaseIsNotSent() async throws {
        let shop = InMemoryShop()
        let writer = writer(shop, locationId: "loc-1")
        let quantity = ShopPlatform.Quantity(inventoryItemId: "item-1", locationId: "loc-1", quantity: 3, changeFromQuantity: 2)
        #expect(await writer.send([quantity], reference: "gid://stockwire/test", lease: nil) == nil)
        #expect(await shop.calls.isEmpty)
    }
}
