import AMQP
import Contracts
import Foundation
import Logging
import ShopifySimulator
import StockwireTestSupport
import Testing

@testable import exporter

/// A canary Admin API token: the exporter sends it to Shopify in `X-Shopify-Access-Token` and nowhere else. Driven
/// through a write, a refused token, server errors and an unreadable message at the most verbose log level, it must
/// appear in no log line and in no dead-lettered message.
@Suite struct ExporterSecretsIntegrationTests {
    @Test func theAdminAPITokenAppearsInNoLogLineNorDeadLetter() async throws {
        let canary = "shpat_cnry_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let log = LogCapture()
        var logger = Logger(label: "exporter-canary", factory: log.handler)
        logger.logLevel = .trace
        var tuning = ShopWriter.Tuning()
        tuning.pauseRetry = .milliseconds(200)
        tuning.requestTimeout = .seconds(1)
        tuning.maxBackoff = .milliseconds(300)
        let h = try await ExporterHarness.start(shops: 1, tuning: tuning, token: { _ in canary }, logger: logger)
        defer { Task { await h.stop() } }
        let shop = h.shops[0]
        let sku = h.sku("canary")
        _ = try await h.simulator.createVariant(shop: shop, sku: sku, available: 10)

        try await h.publish(sku: sku, available: 7, version: 1)
        #expect(try await eventually { try await h.level(shop, sku) == 7 }, "the token works")
        try await h.simulator.setFaults(ShopFaults(tokenRevoked: true), shop: shop)
        try await h.publish(sku: sku, available: 6, version: 2)
        #expect(try await eventually { await h.app.readiness()?.contains(shop) == true }, "the shop is paused on 401")
        try await h.simulator.setFaults(ShopFaults(errorRate: 1), shop: shop)
        #expect(
            try await eventually { await h.simulator.writeLog(shop: shop).contains { $0.result.hasPrefix("fault-") } },
            "the exporter met the server errors")
        try await h.simulator.setFaults(ShopFaults(), shop: shop)
        #expect(try await eventually { try await h.level(shop, sku) == 6 }, "the shop resumes")
        // An unreadable message is dead-lettered with its reason.
        try await h.connection.publish(
            AMQPMessage(
                exchange: "test.availability.\(h.prefix)", routingKey: sku, body: Array("{not json".utf8),
                properties: AMQPProperties(
                    contentType: "application/json", messageId: "garbage-1", type: AvailabilityMessage.messageType)))
        let deadQueue = StockwireTopology.deadLetterQueue(of: StockwireTopology.exporterQueue(shop: shop))
        #expect(try await eventually { try await h.connection.queueInfo(deadQueue).messages == 1 })
        let dead = try await h.connection.take(1, from: deadQueue)

        let text = log.text
        #expect(text.contains("Admin API token refused"), "the log that matters was captured:\n\(text.prefix(3000))")
        #expect(!text.contains(canary), "the token is in the log")
        #expect(dead.count == 1)
        for letter in dead {
            let rendered = "\(letter.routingKey) \(letter.properties) \(String(decoding: letter.body, as: UTF8.self))"
            #expect(rendered.contains("unreadable availability message"), "\(rendered)")
            #expect(!rendered.contains(canary), "the token is in a dead letter: \(rendered)")
        }
    }
}
