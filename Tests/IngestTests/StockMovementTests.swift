import AMQP
import Contracts
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import ingest

@Suite struct StockMovementIntegrationTests {
    static func headers(token: String? = IngestHarness.token) -> HTTPFields {
        var h = HTTPFields()
        h[.contentType] = "application/json"
        if let token { h[.authorization] = "Bearer \(token)" }
        return h
    }

    @Test func movementsNeedTheBearerToken() async throws {
        let h = try await IngestHarness.make("mv-auth")
        let body = Array(#"{"movement_id":"m-1","sku":"A-1","kind":"receipt","quantity":5}"#.utf8)
        try await h.run { client, port in
            for token in [nil, "wrong", "warehouse-token-", "warehouse-token-11"] as [String?] {
                let r = try await IngestHarness.post(client, "/stock-movements", body: body, headers: Self.headers(token: token))
                #expect(r.status == .unauthorized)
            }
            var basic = Self.headers(token: nil)
            basic[.authorization] = "Basic \(IngestHarness.token)"
            let r = try await IngestHarness.post(client, "/stock-movements", body: body, headers: basic)
            #expect(r.status == .unauthorized)
            _ = try await h.expectPublished([], port: port)
        }
    }

    @Test func invalidMovementIs400NamingTheFieldAndNothingIsPublished() async throws {
        let h = try await IngestHarness.make("mv-bad")
        let cases: [(String, String)] = [
            (#"{"movement_id":"m-1","sku":"A-1","kind":"receipt","quantity":0}"#, "quantity"),
            (#"{"movement_id":"m-1","sku":"A-1","kind":"teleport","quantity":1}"#, "kind"),
            (#"{"sku":"A-1","kind":"receipt","quantity":1}"#, "movement_id"),
            (#"{"movement_id":"m-1","sku":"A-1","kind":"shipment","quantity":1}"#, "shop"),
            (#"[{"movement_id":"s-1","sku":"A","kind":"stocktake","quantity":3},{"movement_id":"s-2","sku":"B","kind":"stocktake","quantity":-1}]"#, "[1].quantity"),
            ("not json", "JSON"),
        ]
        try await h.run { client, port in
            for (json, field) in cases {
                let r = try await IngestHarness.post(client, "/stock-movements", body: Array(json.utf8), headers: Self.headers())
                #expect(r.status == .badRequest, "\(json)")
                #expect(r.text.contains(field), "\(r.text) should name \(field)")
            }
            _ = try await h.expectPublished([], port: port)
        }
    }

    @Test func movementsArePublishedPerKindAnd202AfterConfirm() async throws {
        let h = try await IngestHarness.make("mv-ok")
        let stocktake = #"""
            [{"movement_id":"st-1","sku":"A","kind":"stocktake","quantity":7,"warehouse":"main"},
             {"movement_id":"sh-1","sku":"B","kind":"shipment","quantity":1,"shop":"acme.myshopify.com","order_id":5800000000000001,"line_item_id":14000000000000001}]
            """#
        try await h.run { client, port in
            let r = try await IngestHarness.post(client, "/stock-movements", body: Array(stocktake.utf8), headers: Self.headers())
            #expect(r.status == .accepted)
            #expect(r.text == #"{"accepted":2}"#)
            // Each once: the queue holds them and the marker, nothing else.
            let messages = try await h.expectPublished(["warehouse/st-1", "warehouse/sh-1"], port: port)
            let byId = Dictionary(uniqueKeysWithValues: messages.map { ($0.properties.messageId ?? "", $0) })
            #expect(byId["warehouse/st-1"]?.routingKey == "warehouse.stocktake")
            #expect(byId["warehouse/sh-1"]?.routingKey == "warehouse.shipment")
            let shipment = try StockMovement.parse(byId["warehouse/sh-1"]!.body)[0]
            #expect(shipment.orderId == 5_800_000_000_000_001)
            #expect(shipment.lineItemId == 14_000_000_000_000_001)
            let envelope = try EventEnvelope(body: byId["warehouse/st-1"]!.body, properties: byId["warehouse/st-1"]!.properties)
            #expect(envelope.source == .warehouse)
            #expect(envelope.topic == "stocktake")
        }
    }
}
