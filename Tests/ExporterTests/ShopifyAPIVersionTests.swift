import Contracts
import Foundation
import Testing

@testable import exporter

/// Issue #16, item 3: a shops file pinned below 2026-04 has no compare-and-set writes, so every write was refused
/// and retried for ever. The exporter refuses to start, naming the shop and the fix.
@Suite struct ShopifyAPIVersionTests {
    @Test func versionsAreReadAndOrdered() throws {
        #expect(ShopifyAPIVersion("2026-04") == ShopifyAPIVersion(year: 2026, month: 4))
        #expect(try #require(ShopifyAPIVersion("2025-10")) < ShopifyAPIVersion.minimum)
        #expect(ShopifyAPIVersion.pinned >= ShopifyAPIVersion.minimum)
        for bad in ["unstable", "2026-05", "2026-4", "26-04", "2026-04-01", ""] {
            #expect(ShopifyAPIVersion(bad) == nil, "\(bad)")
        }
    }

    @Test func aShopsFilePinnedBelowTheMinimumIsRefusedNamingTheShopAndTheFix() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("shops-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: file) }
        try
            #"[{"domain": "a.myshopify.com", "token_file": "/t"}, {"domain": "b.myshopify.com", "token_file": "/t", "api_version": "2025-10"}]"#
            .write(to: file, atomically: true, encoding: .utf8)
        let error = try #require(throws: (any Error).self) { try ShopSettings.load(file: file.path) }
        let text = "\(error)"
        #expect(
            text.contains("b.myshopify.com") && text.contains("2025-10") && text.contains("\"api_version\": \"2026-10\""),
            "\(text)")

        try #"[{"domain": "a.myshopify.com", "token_file": "/t", "api_version": "unstable"}]"#
            .write(to: file, atomically: true, encoding: .utf8)
        #expect(throws: (any Error).self) { try ShopSettings.load(file: file.path) }

        try #"[{"domain": "a.myshopify.com", "token_file": "/t", "api_version": "2026-04"}]"#
            .write(to: file, atomically: true, encoding: .utf8)
        #expect(try ShopSettings.load(file: file.path).first?.graphQLURL.contains("/admin/api/2026-04/") == true)
    }

    /// Issue #20's example: ingest lower-cases shop domains, and everything the calculator sends a shop is keyed by
    /// that; a shops file with capitals wrote that shop 0 of its share under the guard and missed its catalog.
    @Test func aShopsFileDomainIsReadAsIngestReadsIt() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("shops-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: file) }
        try #"[{"domain": " Acme.MyShopify.com ", "token_file": "/t"}]"#.write(to: file, atomically: true, encoding: .utf8)
        let shop = try #require(try ShopSettings.load(file: file.path).first)
        #expect(shop.domain == "acme.myshopify.com")
        #expect(shop.adminURL == "https://acme.myshopify.com")
        let guarded = AvailabilityMessage(
            sku: "S", available: 10, onHand: 10, reserved: 0, version: 1, causes: [], shares: ["acme.myshopify.com": 4],
            computedAtMillis: 0)
        #expect(guarded.target(for: shop.domain.description) == 4, "the share written is the shop's own, not 0")
        try #"[{"domain": "acme.myshopify.com", "token_file": "/t"}, {"domain": "ACME.myshopify.com", "token_file": "/u"}]"#
            .write(to: file, atomically: true, encoding: .utf8)
        let twice = try #require(throws: (any Error).self) { try ShopSettings.load(file: file.path) }
        #expect("\(twice)".contains("listed twice"))
    }

    /// The same example end to end through the one type both sides use: the domain ingest puts on an event (from
    /// Shopify's header, whatever its case) reads back from the broker equal to the shops file's `ACME.myshopify.com`,
    /// and a domain that is none is refused with the file and the rule named.
    @Test func aShopsFileWithCapitalsMatchesTheDomainIngestPublishes() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("shops-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: file) }
        try #"[{"domain": "ACME.myshopify.com", "token_file": "/t"}]"#.write(to: file, atomically: true, encoding: .utf8)
        let shop = try #require(try ShopSettings.load(file: file.path).first)
        let header = " acme.MyShopify.com"  // X-Shopify-Shop-Domain as it came, read as ingest reads it
        let published = EventEnvelope(
            source: .shopify, shop: try ShopDomain(header), topic: "orders/create", deliveryId: "w-1",
            receivedAtMillis: 1, body: []
        ).message()
        let received = try EventEnvelope(body: published.body, properties: published.properties)
        #expect(received.shop == shop.domain)
        #expect(StockwireTopology.exporterQueue(shop: shop.domain.description) == "exporter.acme.myshopify.com")

        try #"[{"domain": "acme_shop.myshopify.com", "token_file": "/t"}]"#.write(to: file, atomically: true, encoding: .utf8)
        let bad = try #require(throws: (any Error).self) { try ShopSettings.load(file: file.path) }
        #expect("\(bad)".contains("shops file \(file.path): 'acme_shop.myshopify.com' is not a shop domain"), "\(bad)")
    }

    @Test func aWarningComesNinetyDaysBeforeSupportEndsAndAfterIt() throws {
        let v = try #require(ShopifyAPIVersion("2026-04"))
        let ends = v.supportEnds
        #expect(ends == ISO8601DateFormatter().date(from: "2027-04-01T00:00:00Z"))
        #expect(v.supportWarning(shop: "a", now: ends.addingTimeInterval(-100 * 86_400)) == nil)
        #expect(
            v.supportWarning(shop: "a", now: ends.addingTimeInterval(-30 * 86_400))?.contains("supported until 2027-04-01")
                == true)
        #expect(v.supportWarning(shop: "a", now: ends.addingTimeInterval(86_400))?.contains("past its support") == true)
    }
}
