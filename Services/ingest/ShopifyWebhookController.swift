import Contracts
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Signing

/// `POST /webhooks/shopify`: verifies a Shopify webhook and answers 200 only once the broker confirmed it.
///
/// Order of checks, cheapest and least revealing first: declared size (413), shop (401), signature header (401),
/// body within the limit and the read timeout (413, 408), HMAC over the raw bytes (401), topic and webhook id
/// (400). Nothing is published before every check passed. Mandatory compliance topics are answered 200 after
/// verification and not published: Stockwire keeps no customer data.
struct ShopifyWebhookController: Sendable {
    let shops: ShopSecrets
    let maxBodyBytes: Int
    let readTimeout: Duration
    let publisher: EventPublisher

    /// Topics Shopify requires every app to accept; Stockwire has nothing to export or erase.
    static let complianceTopics: Set<String> = ["customers/data_request", "customers/redact", "shop/redact"]

    /// Header names; Shopify's newer event system sends them without the `X-` prefix.
    enum Header {
        static let shop = names("Shop-Domain")
        static let hmac = names("Hmac-Sha256")
        static let topic = names("Topic")
        static let webhookId = names("Webhook-Id")
        static let eventId = names("Event-Id")
        static let triggeredAt = names("Triggered-At")
        static let apiVersion = names("API-Version")

        private static func names(_ suffix: String) -> [HTTPField.Name] {
            [HTTPField.Name("X-Shopify-\(suffix)")!, HTTPField.Name("Shopify-\(suffix)")!]
        }
    }

    /// What an accepted or refused webhook looked like, for metrics and logs.
    struct Outcome {
        var topic = "unverified"
        var metadata: Logger.Metadata = [:]
    }

    func handle(_ request: Request, outcome: inout Outcome) async throws(IngestRejection) {
        if let declared = request.declaredContentLength, declared > maxBodyBytes { throw .tooLarge(limit: maxBodyBytes) }
        guard let shop = Self.value(request.headers, Header.shop).map(ShopSecrets.normalize) else {
            throw .unauthorized("unknown_shop", "missing X-Shopify-Shop-Domain")
        }
        outcome.metadata["shop"] = "\(shop.prefix(255))"
        guard let secrets = shops.secrets(for: shop) else {
            throw .unauthorized("unknown_shop", "unknown shop")
        }
        guard let signature = Self.value(request.headers, Header.hmac) else {
            throw .unauthorized("missing_signature", "missing X-Shopify-Hmac-Sha256")
        }
        let body = try await request.collectBody(limit: maxBodyBytes, readTimeout: readTimeout)
        guard WebhookSignature.isValid(signature: signature, body: body, secrets: secrets) else {
            throw .unauthorized("bad_signature", "signature does not match")
        }
        guard let topic = Self.value(request.headers, Header.topic) else {
            throw .badRequest("missing_topic", "missing X-Shopify-Topic header")
        }
        guard Self.isValidTopic(topic) else {
            throw .badRequest("invalid_topic", "X-Shopify-Topic must be like orders/create (a-z, 0-9, _, -, /)")
        }
        outcome.topic = topic
        outcome.metadata["topic"] = "\(topic)"
        guard let webhookId = Self.value(request.headers, Header.webhookId) else {
            throw .badRequest("missing_webhook_id", "missing X-Shopify-Webhook-Id header")
        }
        guard webhookId.utf8.count <= 200, webhookId.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw .badRequest("invalid_webhook_id", "X-Shopify-Webhook-Id must be at most 200 printable ASCII characters")
        }
        outcome.metadata["webhook_id"] = "\(webhookId)"
        if Self.complianceTopics.contains(topic) { return }

        let envelope = EventEnvelope(
            source: .shopify, shop: shop, topic: topic, deliveryId: webhookId,
            eventId: Self.value(request.headers, Header.eventId),
            triggeredAt: Self.value(request.headers, Header.triggeredAt),
            apiVersion: Self.value(request.headers, Header.apiVersion),
            receivedAtMillis: Int64(Date().timeIntervalSince1970 * 1000), body: body)
        if let eventId = envelope.eventId { outcome.metadata["event_id"] = "\(eventId)" }
        do throws(PublishFailure) {
            try await publisher.publish(envelope)
        } catch {
            outcome.metadata["error"] = "\(error.detail)"
            throw .unavailable(error)
        }
    }

    /// The first non-empty value of any of `names`, trimmed.
    static func value(_ headers: HTTPFields, _ names: [HTTPField.Name]) -> String? {
        for name in names {
            if let v = headers[name]?.trimmingCharacters(in: .whitespaces), !v.isEmpty { return v }
        }
        return nil
    }

    /// Shopify topics are lower-case words joined by `/` (`orders/create`, `inventory_levels/update`).
    static func isValidTopic(_ topic: String) -> Bool {
        topic.utf8.count <= 100 && !topic.hasPrefix("/") && !topic.hasSuffix("/")
            && topic.utf8.allSatisfy { c in
                (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x5F || c == 0x2D || c == 0x2F
            }
    }
}
