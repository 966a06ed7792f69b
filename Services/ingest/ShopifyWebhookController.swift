import Contracts
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Signing

/// `POST /webhooks/shopify`: verifies a Shopify webhook and answers 200 only once the broker confirmed it.
///
/// Order of checks, cheapest and least revealing first: declared size (413), content type and encoding (415), shop
/// (401), signature header (401), body within the limit and the read timeout (413, 408), HMAC over the raw bytes
/// (401), topic and webhook id (400). A Shopify header sent twice reads as its values joined with `, `, which is
/// never a valid signature, shop, topic or webhook id: a duplicate is refused, never "either one matches". Nothing
/// is published before every check passed. Mandatory compliance topics are answered 200 after verification and not
/// published: Stockwire keeps no customer data.
struct ShopifyWebhookController: Sendable {
    let shops: ShopSecrets
    let maxBodyBytes: Int
    let readTimeout: Duration
    let budget: BodyBudget
    let publisher: EventPublisher

    /// Topics Shopify requires every app to accept; Stockwire has nothing to export or erase.
    static let complianceTopics: Set<String> = ["customers/data_request", "customers/redact", "shop/redact"]

    /// The Shopify headers of one request, found in one pass over its fields.
    ///
    /// Each value is the first non-empty one, trimmed, of the `X-Shopify-…` header and then the same name without
    /// `X-` (Shopify's newer event system); a header sent several times counts as its values joined with `, `, as
    /// `HTTPFields`' subscript reads it. (Looking each name up with that subscript scanned every field and joined
    /// per lookup, fourteen times per webhook.)
    struct Headers {
        var shop: String?
        var hmac: String?
        var topic: String?
        var webhookId: String?
        var eventId: String?
        var triggeredAt: String?
        var apiVersion: String?

        /// The header suffixes after `X-Shopify-` / `Shopify-`, in slot order.
        private static let suffixes = [
            "shop-domain", "hmac-sha256", "topic", "webhook-id", "event-id", "triggered-at", "api-version",
        ]
        /// Canonical (lower-case) name → slot: `2 * suffix index`, `+ 1` for the name without `X-`.
        private static let slots: [String: Int] = {
            var slots: [String: Int] = [:]
            for (i, suffix) in suffixes.enumerated() {
                slots["x-shopify-\(suffix)"] = 2 * i
                slots["shopify-\(suffix)"] = 2 * i + 1
            }
            return slots
        }()

        init(_ fields: HTTPFields) {
            var raw = [String?](repeating: nil, count: 2 * Self.suffixes.count)
            for field in fields {
                let name = field.name.canonicalName
                guard name.utf8.count >= 13, let slot = Self.slots[name] else { continue }
                if let earlier = raw[slot] {
                    raw[slot] = earlier + ", " + field.value
                } else {
                    raw[slot] = field.value
                }
            }
            func value(_ i: Int) -> String? {
                if let v = raw[2 * i]?.trimmingWhitespace, !v.isEmpty { return v }
                if let v = raw[2 * i + 1]?.trimmingWhitespace, !v.isEmpty { return v }
                return nil
            }
            shop = value(0)
            hmac = value(1)
            topic = value(2)
            webhookId = value(3)
            eventId = value(4)
            triggeredAt = value(5)
            apiVersion = value(6)
        }
    }

    /// What an accepted or refused webhook looked like, for metrics and logs.
    ///
    /// The log metadata is only built when something logs it (refusals, and acceptances at `debug`).
    struct Outcome {
        /// The topic for metrics: `unverified` until the signature and the topic were checked.
        var topic = "unverified"
        var verifiedTopic: String?
        var shop: String?
        var webhookId: String?
        var eventId: String?
        var error: String?

        var metadata: Logger.Metadata {
            var metadata: Logger.Metadata = [:]
            if let shop { metadata["shop"] = "\(shop.prefix(255))" }
            if let verifiedTopic { metadata["topic"] = "\(verifiedTopic)" }
            if let webhookId { metadata["webhook_id"] = "\(webhookId)" }
            if let eventId { metadata["event_id"] = "\(eventId)" }
            if let error { metadata["error"] = "\(error)" }
            return metadata
        }
    }

    func handle(_ request: Request, outcome: inout Outcome) async throws(IngestRejection) {
        if let declared = request.declaredContentLength, declared > maxBodyBytes { throw .tooLarge(limit: maxBodyBytes) }
        if let unsupported = request.unsupportedMediaType { throw unsupported }
        let headers = Headers(request.headers)
        guard let header = headers.shop else {
            throw .unauthorized("unknown_shop", "missing X-Shopify-Shop-Domain")
        }
        // Normalised here, once: everything downstream (secrets, the envelope, the calculator's keys) compares the
        // domain as ShopDomain. A header that is no domain at all is a shop ingest does not know.
        let domain = try? ShopDomain(header)
        outcome.shop = domain?.description ?? header.lowercased()
        guard let shop = domain, let secrets = shops.secrets(for: shop) else {
            throw .unauthorized("unknown_shop", "unknown shop")
        }
        guard let signature = headers.hmac else {
            throw .unauthorized("missing_signature", "missing X-Shopify-Hmac-Sha256")
        }
        // The body's bytes stay taken from the budget until the event is published (or refused).
        let lease = BodyLease(budget)
        defer { lease.end() }
        let body = try await request.collectBody(limit: maxBodyBytes, readTimeout: readTimeout, lease: lease)
        guard WebhookSignature.isValid(signature: signature, body: body, secrets: secrets) else {
            throw .unauthorized("bad_signature", "signature does not match")
        }
        guard let topic = headers.topic else {
            throw .badRequest("missing_topic", "missing X-Shopify-Topic header")
        }
        guard Self.isValidTopic(topic) else {
            throw .badRequest("invalid_topic", "X-Shopify-Topic must be like orders/create (a-z, 0-9, _, -, /)")
        }
        outcome.topic = topic
        outcome.verifiedTopic = topic
        guard let webhookId = headers.webhookId else {
            throw .badRequest("missing_webhook_id", "missing X-Shopify-Webhook-Id header")
        }
        guard webhookId.utf8.count <= 200, webhookId.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw .badRequest("invalid_webhook_id", "X-Shopify-Webhook-Id must be at most 200 printable ASCII characters")
        }
        outcome.webhookId = webhookId
        if Self.complianceTopics.contains(topic) { return }

        let envelope = EventEnvelope(
            source: .shopify, shop: shop, topic: topic, deliveryId: webhookId, eventId: headers.eventId,
            triggeredAt: headers.triggeredAt, apiVersion: headers.apiVersion,
            receivedAtMillis: Int64(Date().timeIntervalSince1970 * 1000), body: body)
        outcome.eventId = envelope.eventId
        do throws(PublishFailure) {
            try await publisher.publish(envelope)
        } catch {
            outcome.error = error.detail
            throw .unavailable(error)
        }
    }

    /// Shopify topics are lower-case words joined by `/` (`orders/create`, `inventory_levels/update`).
    static func isValidTopic(_ topic: String) -> Bool {
        topic.utf8.count <= 100 && !topic.hasPrefix("/") && !topic.hasSuffix("/")
            && topic.utf8.allSatisfy { c in
                (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x5F || c == 0x2D || c == 0x2F
            }
    }
}
