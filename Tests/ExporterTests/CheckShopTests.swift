import AsyncHTTPClient
import Contracts
import Foundation
import Logging
import ShopifySimulator
import StockwireTestSupport
import Testing

@testable import exporter

/// Issue #16: `exporter check-shop`, the onboarding check a merchant runs before going live, read-only.
@Suite(.timeLimit(.minutes(2))) struct CheckShopTests {
    /// A simulated shop with one of each thing check-shop must find, checked end to end through the Admin API.
    @Test func aShopWithEveryPitfallIsReportedCheckByCheckAndFails() async throws {
        let domain = "check-\(UUID().uuidString.prefix(8).lowercased()).myshopify.com"
        let sim = try await Simulator.start(
            SimulatorConfiguration(shops: [
                ShopConfiguration(
                    domain: domain, accessToken: "tok", webhookSecret: "s",
                    accessScopes: ["write_inventory", "read_products", "read_locations"])
            ]))
        defer { Task { await sim.shutdown() } }
        let tokenFile = FileManager.default.temporaryDirectory.appendingPathComponent("check-\(UUID().uuidString).token")
        try "tok\n".write(to: tokenFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: tokenFile) }
        _ = try await sim.addLocation(shop: domain, name: "Pop-up store", fulfillsOnlineOrders: true)
        let location = "gid://shopify/Location/\(try await sim.configuration(shop: domain).locationID)"
        _ = try await sim.createVariant(shop: domain, sku: "OK", available: 5)
        _ = try await sim.createVariant(shop: domain, sku: "TWICE", available: 2)
        _ = try await sim.createVariant(shop: domain, sku: "TWICE", available: 2)
        let untracked = try await sim.createVariant(shop: domain, sku: "LOOSE", available: 1)
        try await sim.setTraits(shop: domain, variantId: untracked.variantId, VariantTraits(tracked: false))
        let continues = try await sim.createVariant(shop: domain, sku: "PREORDER", available: 0)
        try await sim.setTraits(shop: domain, variantId: continues.variantId, VariantTraits(continueSelling: true))
        let bundle = try await sim.createVariant(shop: domain, sku: "GIFTBOX", available: 0)
        try await sim.setTraits(shop: domain, variantId: bundle.variantId, VariantTraits(requiresComponents: true))
        _ = try await sim.createVariant(shop: domain, sku: "DRIFT", available: 9)
        _ = try await sim.createVariant(shop: domain, sku: "LOW", available: 1)
        for i in 0..<230 { _ = try await sim.createVariant(shop: domain, sku: "FILL-\(i)", available: 3) }  // two pages

        let shop = ShopSettings(
            domain: try ShopDomain(domain), adminURL: sim.adminBaseURL(shop: domain), tokenFile: tokenFile.path,
            locationId: location)
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let client = AdminAPIClient(shop: shop, http: http, timeout: .seconds(10))
        var truth: [String: Int64] = ["OK": 5, "TWICE": 2, "DRIFT": 4, "LOW": 3, "ONLY-IN-WAREHOUSE": 7]
        for i in 0..<230 { truth["FILL-\(i)"] = 3 }
        let facts = await ShopCheck.gather(shop: shop, client: client, truth: truth)
        try await http.shutdown()
        let report = ShopCheck.analyze(facts)
        func finding(_ check: String, _ severity: ShopCheck.Severity) -> ShopCheck.Finding? {
            report.findings.first { $0.check == check && $0.severity == severity }
        }

        #expect(report.failed)
        #expect(report.location == location)
        #expect(finding("api version", .ok) != nil)
        #expect(finding("token", .problem)?.items == ["read_orders"], "write_inventory implies read_inventory")
        #expect(finding("location", .ok) != nil)
        #expect(finding("other locations", .warning)?.items.first?.contains("Pop-up store") == true)
        #expect(finding("catalog", .ok)?.message.hasPrefix("238 variants") == true, "every page read")
        #expect(finding("duplicate SKUs", .problem)?.items == ["TWICE (2 variants)"])
        #expect(finding("untracked items", .problem)?.items == ["LOOSE"])
        #expect(finding("continue selling", .problem)?.items == ["PREORDER"])
        #expect(finding("bundles", .warning)?.items == ["GIFTBOX"])
        #expect(finding("drift", .problem)?.items == ["DRIFT: shop 9, truth 4"], "more than the truth: oversells")
        #expect(finding("drift", .warning)?.items == ["LOW: shop 1, truth 3"])
        #expect(finding("SKUs the shop lacks", .warning)?.items == ["ONLY-IN-WAREHOUSE"])
        #expect(finding("SKUs Stockwire does not know", .warning)?.items == ["PREORDER"])
        // Read-only: nothing was written.
        #expect(await sim.writeLog(shop: domain).allSatisfy { $0.operation != "inventorySetQuantities" })
        let text = report.text()
        #expect(text.contains("PROBLEM  duplicate SKUs") && text.contains("fix the problems before going live"))
        let json = try JSONEncoder().encode(report)
        #expect(try JSONDecoder().decode(ShopCheck.Report.self, from: json) == report)
    }

    @Test func aShopReadyToGoLivePassesAndAMissingLocationOrAnOldVersionFails() {
        let location = AdminAPIClient.Location(
            id: "gid://shopify/Location/1", name: "Warehouse", isActive: true, fulfillsOnlineOrders: true)
        let variant = AdminAPIClient.Variant(
            id: "gid://shopify/ProductVariant/1", sku: "A", inventoryItemId: "gid://shopify/InventoryItem/1", tracked: true,
            continueSelling: false, requiresComponents: false)
        var facts = ShopCheck.Facts(
            shop: "a.myshopify.com", apiVersion: "2026-10", now: Date(timeIntervalSince1970: 1_796_000_000),
            configuredLocation: nil,
            scopes: .success(ShopCheck.requiredScopes), locations: .success([location]), variants: .success([variant]),
            levels: .success(["gid://shopify/InventoryItem/1": 4]), truth: ["A": 4])
        let ready = ShopCheck.analyze(facts)
        #expect(!ready.failed, "\(ready.text())")
        #expect(ready.findings.allSatisfy { $0.severity == .ok }, "\(ready.text())")

        facts.locations = .success([
            location, .init(id: "gid://shopify/Location/2", name: "Shop", isActive: true, fulfillsOnlineOrders: true),
        ])
        let twoLocations = ShopCheck.analyze(facts)
        #expect(twoLocations.failed && twoLocations.location == nil, "with two locations, location_id must be set")

        facts.locations = .success([location])
        facts.apiVersion = "2025-10"
        #expect(ShopCheck.analyze(facts).findings.first { $0.check == "api version" }?.severity == .problem)

        facts.apiVersion = "2026-10"
        facts.scopes = .failure(ShopCheck.CheckError(description: "the token was refused (401): check the token file"))
        #expect(ShopCheck.analyze(facts).failed)
    }

    @Test func aTruthFileThatIsNotTheCalculatorsIsRefusedWithWhatItShouldBe() throws {
        #expect(try ShopCheck.truth(from: Data(#"{"shop": "a", "skus": {"A": 3}}"#.utf8)) == ["A": 3])
        #expect(throws: ShopCheck.CheckError.self) { try ShopCheck.truth(from: Data(#"{"A": 3}"#.utf8)) }
    }
}

/// The exporter's own warning at start, through the broker.
@Suite(.timeLimit(.minutes(2))) struct CheckShopIntegrationTests {
    /// Item 8: a shop whose other locations also sell online is named at the exporter's start, with what it means.
    @Test func theExporterWarnsWhenOtherLocationsOfAShopSellOnline() async throws {
        let capture = LogCapture()
        var logger = Logger(label: "exporter-test") { capture.handler($0) }
        logger.logLevel = .info
        let h = try await ExporterHarness.start(shops: 1, logger: logger, configureLocations: true)
        let shop = h.shops[0]
        _ = try await h.simulator.addLocation(shop: shop, name: "Pop-up store", fulfillsOnlineOrders: true)
        _ = try await h.simulator.addLocation(shop: shop, name: "Back office", fulfillsOnlineOrders: false)
        let sku = h.sku("loc")
        _ = try await h.simulator.createVariant(shop: shop, sku: sku, available: 1)
        try await h.publish(sku: sku, available: 4, version: 1)
        #expect(try await eventually { try await h.level(shop, sku) == 4 })
        #expect(try await eventually { capture.text.contains("other locations of this shop fulfil online orders") })
        #expect(capture.text.contains("Pop-up store") && !capture.text.contains("Back office"), "only the ones selling online")
        await h.stop()
    }
}
