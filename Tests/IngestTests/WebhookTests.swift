import AMQP
import Contracts
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Signing
import Testing

@testable import ingest

@Suite struct WebhookIntegrationTests {
    // MARK: - Accepted

    @Test func shopifyTestVectorIsAcceptedAndArrivesByteIdentical() async throws {
        let h = try await IngestHarness.make("vector")
        // The published test vector, exactly as Shopify signs it; not a byte may change on the way.
        let body = Array(ShopifyVector.body.utf8)
        var headers = IngestHarness.webhookHeaders(body: body, webhookId: "wh-0001")
        headers[HTTPField.Name("X-Shopify-Hmac-Sha256")!] = ShopifyVector.signature
        let signed = headers
        try await h.run { client, _ in
            let response = try await IngestHarness.post(client, "/webhooks/shopify", body: body, headers: signed)
            #expect(response.status == .ok)
            let m = try await h.take(1)[0]
            #expect(m.body == body)
            #expect(m.properties.messageId == "acme.myshopify.com/wh-0001")
        }
    }

    @Test func acceptedWebhookIsPublishedOnceWithEnvelopeAndRoutingKey() async throws {
        let h = try await IngestHarness.make("envelope")
        let body = Array(#"{"id":5800000000000001,"line_items":[{"sku":"Ü-1","quantity":2}]}"#.utf8) + [0x0A]
        let headers = IngestHarness.webhookHeaders(body: body, topic: "orders/create", webhookId: "wh-42")
        try await h.run { client, port in
            let response = try await IngestHarness.post(client, "/webhooks/shopify", body: body, headers: headers)
            #expect(response.status == .ok)
            // Once: the queue holds it and the marker, nothing else.
            let messages = try await h.expectPublished(["acme.myshopify.com/wh-42"], port: port)
            let m = try #require(messages.first)
            #expect(m.body == body)
            #expect(m.routingKey == "shopify.orders.create")
            #expect(m.exchange == h.exchange)
            #expect(m.properties.persistent)
            #expect(m.properties.messageId == "acme.myshopify.com/wh-42")
            let envelope = try EventEnvelope(body: m.body, properties: m.properties)
            #expect(envelope.source == .shopify)
            #expect(envelope.shop == "acme.myshopify.com")
            #expect(envelope.topic == "orders/create")
            #expect(envelope.deliveryId == "wh-42")
            #expect(envelope.eventId == "event-42")
            #expect(envelope.triggeredAt == "2026-11-27T10:00:00.123Z")
            #expect(envelope.apiVersion == "2026-10")
            #expect(abs(envelope.receivedAtMillis - Int64(Date().timeIntervalSince1970 * 1000)) < 60_000)
        }
    }

    @Test func headersWithoutXPrefixAndAnOldSecretAreAccepted() async throws {
        let h = try await IngestHarness.make("noprefix")
        let body = Array(#"{"inventory_item_id":1,"location_id":2,"available":3}"#.utf8)
        let headers = IngestHarness.webhookHeaders(
            body: body, shop: "ACME.myshopify.com", secret: IngestHarness.oldSecret, topic: "inventory_levels/update",
            webhookId: "wh-new-system", prefix: "")
        try await h.run { client, _ in
            let response = try await IngestHarness.post(client, "/webhooks/shopify", body: body, headers: headers)
            #expect(response.status == .ok)
            let m = try await h.take(1)[0]
            #expect(m.routingKey == "shopify.inventory_levels.update")
            #expect(m.properties.messageId == "acme.myshopify.com/wh-new-system")
        }
    }

    @Test(arguments: ["customers/data_request", "customers/redact", "shop/redact"])
    func complianceTopicIsAnsweredAfterVerificationAndNotPublished(topic: String) async throws {
        let h = try await IngestHarness.make("compliance")
        let body = Array(#"{"shop_id":1,"shop_domain":"acme.myshopify.com"}"#.utf8)
        try await h.run { client, port in
            let ok = try await IngestHarness.post(
                client, "/webhooks/shopify", body: body, headers: IngestHarness.webhookHeaders(body: body, topic: topic))
            #expect(ok.status == .ok)
            var forged = IngestHarness.webhookHeaders(body: body, topic: topic)
            forged[HTTPField.Name("X-Shopify-Hmac-Sha256")!] = ShopifyVector.signature
            let refused = try await IngestHarness.post(client, "/webhooks/shopify", body: body, headers: forged)
            #expect(refused.status == .unauthorized)
            _ = try await h.expectPublished([], port: port)
        }
    }

    // MARK: - Refused, and nothing published

    struct BadCase: Sendable, CustomTestStringConvertible {
        let name: String
        let status: HTTPResponse.Status
        let headers: @Sendable ([UInt8]) -> HTTPFields
        var testDescription: String { name }
    }

    static let badCases: [BadCase] = [
        BadCase(name: "unknown shop", status: .unauthorized) { body in
            IngestHarness.webhookHeaders(body: body, shop: "evil.myshopify.com")
        },
        BadCase(name: "missing shop header", status: .unauthorized) { body in
            var h = IngestHarness.webhookHeaders(body: body)
            h[HTTPField.Name("X-Shopify-Shop-Domain")!] = nil
            return h
        },
        BadCase(name: "wrong secret", status: .unauthorized) { body in
            IngestHarness.webhookHeaders(body: body, secret: "not-the-secret")
        },
        BadCase(name: "another shop's secret", status: .unauthorized) { body in
            IngestHarness.webhookHeaders(body: body, secret: "beta-secret")
        },
        BadCase(name: "missing signature", status: .unauthorized) { body in
            var h = IngestHarness.webhookHeaders(body: body)
            h[HTTPField.Name("X-Shopify-Hmac-Sha256")!] = nil
            return h
        },
        BadCase(name: "hex signature", status: .unauthorized) { body in
            var h = IngestHarness.webhookHeaders(body: body)
            h[HTTPField.Name("X-Shopify-Hmac-Sha256")!] = WebhookSignature.hmacSHA256(
                key: Array(IngestHarness.secret.utf8), message: body
            ).map { String(format: "%02x", $0) }.joined()
            return h
        },
        BadCase(name: "signature of the body with a trailing newline", status: .unauthorized) { body in
            var h = IngestHarness.webhookHeaders(body: body)
            h[HTTPField.Name("X-Shopify-Hmac-Sha256")!] = WebhookSignature.sign(
                body: body + [0x0A], secret: Array(IngestHarness.secret.utf8))
            return h
        },
        BadCase(name: "missing topic", status: .badRequest) { body in
            IngestHarness.webhookHeaders(body: body, topic: nil)
        },
        BadCase(name: "invalid topic", status: .badRequest) { body in
            IngestHarness.webhookHeaders(body: body, topic: "orders/#")
        },
        BadCase(name: "missing webhook id", status: .badRequest) { body in
            IngestHarness.webhookHeaders(body: body, webhookId: nil)
        },
    ]

    @Test func badInputGetsItsStatusAndNothingIsPublished() async throws {
        let h = try await IngestHarness.make("bad")
        let body = Array(ShopifyVector.body.utf8)
        try await h.run { client, port in
            for bad in Self.badCases {
                let response = try await IngestHarness.post(client, "/webhooks/shopify", body: body, headers: bad.headers(body))
                #expect(response.status == bad.status, "\(bad.name)")
                #expect(response.headers[.contentType] == "application/json", "\(bad.name)")
                #expect(!response.text.contains(IngestHarness.secret), "\(bad.name)")
            }
            for method in [HTTPRequest.Method.get, .put, .delete] {
                let response = try await client.execute(uri: "/webhooks/shopify", method: method)
                #expect(response.status == .methodNotAllowed)
                #expect(response.headers[.allow] == "POST")
            }
            var big = IngestHarness.webhookHeaders(body: [])
            big[.contentLength] = nil
            let tooLarge = try await IngestHarness.post(
                client, "/webhooks/shopify", body: [UInt8](repeating: 0x20, count: h.configuration.maxBodyBytes + 1), headers: big)
            #expect(tooLarge.status == .contentTooLarge)
            _ = try await h.expectPublished([], port: port)
        }
    }
}

/// Shopify's published test vector (shopify-facts.md), without a broker.
@Suite struct WebhookSignatureVectorTests {
    @Test func shopifyTestVectorVerifiesAndItsVariantsDoNot() {
        let body = Array(ShopifyVector.body.utf8)
        let secret = [Array(ShopifyVector.secret.utf8)]
        #expect(WebhookSignature.isValid(signature: ShopifyVector.signature, body: body, secrets: secret))
        #expect(!WebhookSignature.isValid(signature: ShopifyVector.signature, body: body + [0x0A], secrets: secret))
        let hex = WebhookSignature.hmacSHA256(key: secret[0], message: body).map { String(format: "%02x", $0) }.joined()
        #expect(!WebhookSignature.isValid(signature: hex, body: body, secrets: secret))
        // During a rotation either secret verifies.
        #expect(
            WebhookSignature.isValid(
                signature: ShopifyVector.signature, body: body, secrets: [Array("old".utf8), secret[0]]))
    }
}
