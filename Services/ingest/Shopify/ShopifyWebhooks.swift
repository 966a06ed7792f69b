import Contracts
import HTTPTypes
import Signing

/// Shopify's webhooks (`POST /webhooks/shopify`): the shop in `X-Shopify-Shop-Domain`, the topic and ids in
/// `X-Shopify-Topic`, `X-Shopify-Webhook-Id`, `X-Shopify-Event-Id`, `X-Shopify-Triggered-At` and
/// `X-Shopify-API-Version` (https://shopify.dev/docs/apps/build/webhooks/delivery-structure), and a base64
/// HMAC-SHA256 of the raw body with the app's secret in `X-Shopify-Hmac-Sha256`
/// (https://shopify.dev/docs/apps/build/webhooks/verify-deliveries).
///
/// A Shopify header sent twice reads as its values joined with `, `, which is never a valid signature, shop, topic or
/// webhook id: a duplicate is refused, never "either one matches". Mandatory compliance topics are answered 200 after
/// verification and not published: Stockwire keeps no customer data.
struct ShopifyWebhooks: WebhookPlatform {
    var source: EventEnvelope.Source { .shopify }

    /// Topics Shopify requires every app to accept; Stockwire has nothing to export or erase.
    static let complianceTopics: Set<String> = ["customers/data_request", "customers/redact", "shop/redact"]

    /// The Shopify headers of one request, found in one pass over its fields.
    ///
    /// Each value is the first non-empty one, trimmed, of the `X-Shopify-…` header and then the same name without
    /// `X-` (Shopify's newer event system); a header sent several times counts as its values joined with `, `, as
    /// `HTTPFields`' subscript reads it. (Looking each name up with that subscript scanned every field and joined
    /// per lookup, fourteen times per webhook.)
    struct Headers: Sendable {
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

    func headers(_ fields: HTTPFields) -> Headers { Headers(fields) }

    func shop(in headers: Headers) throws(IngestRejection) -> String {
        guard let shop = headers.shop else { throw .unauthorized("unknown_shop", "missing X-Shopify-Shop-Domain") }
        return shop
    }

    func signature(in headers: Headers) throws(IngestRejection) -> String {
        guard let hmac = headers.hmac else { throw .unauthorized("missing_signature", "missing X-Shopify-Hmac-Sha256") }
        return hmac
    }

    func isGenuine(body: [UInt8], signature: String, secrets: [[UInt8]]) -> Bool {
        WebhookSignature.isValid(signature: signature, body: body, secrets: secrets)
    }

    func describe(_ headers: Headers, outcome: inout WebhookOutcome) throws(IngestRejection) -> VerifiedWebhook? {
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
        if Self.complianceTopics.contains(topic) { return nil }
        return VerifiedWebhook(
            topic: topic, deliveryId: webhookId, eventId: headers.eventId, triggeredAt: headers.triggeredAt,
            apiVersion: headers.apiVersion)
    }

    /// Shopify topics are lower-case words joined by `/` (`orders/create`, `inventory_levels/update`).
    static func isValidTopic(_ topic: String) -> Bool {
        topic.utf8.count <= 100 && !topic.hasPrefix("/") && !topic.hasSuffix("/")
            && topic.utf8.allSatisfy { c in
                (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x5F || c == 0x2D || c == 0x2F
            }
    }
}
