import Contracts
import Foundation
import Hummingbird

/// `POST /webhooks/<platform>`: verifies a shop platform's webhook and answers 200 only once the broker confirmed it.
///
/// Order of checks, cheapest and least revealing first: declared size (413), content type and encoding (415), shop
/// (401), signature header (401), body within the limit and the read timeout (413, 408), the signature over the raw
/// bytes (401), then what the platform requires of a genuine webhook's headers (400). Nothing is published before
/// every check passed.
struct WebhookController<Platform: WebhookPlatform>: Sendable {
    let platform: Platform
    let shops: ShopSecrets
    let maxBodyBytes: Int
    let readTimeout: Duration
    let budget: BodyBudget
    let publisher: EventPublisher

    func handle(_ request: Request, outcome: inout WebhookOutcome) async throws(IngestRejection) {
        if let declared = request.declaredContentLength, declared > maxBodyBytes { throw .tooLarge(limit: maxBodyBytes) }
        if let unsupported = request.unsupportedMediaType { throw unsupported }
        let headers = platform.headers(request.headers)
        let header = try platform.shop(in: headers)
        // Normalised here, once: everything downstream (secrets, the envelope, the calculator's keys) compares the
        // domain as ShopDomain. A header that is no domain at all is a shop ingest does not know.
        let domain = try? ShopDomain(header)
        outcome.shop = domain?.description ?? header.lowercased()
        guard let shop = domain, let secrets = shops.secrets(for: shop) else {
            throw .unauthorized("unknown_shop", "unknown shop")
        }
        let signature = try platform.signature(in: headers)
        // The body's bytes stay taken from the budget until the event is published (or refused).
        let lease = BodyLease(budget)
        defer { lease.end() }
        let body = try await request.collectBody(limit: maxBodyBytes, readTimeout: readTimeout, lease: lease)
        guard platform.isGenuine(body: body, signature: signature, secrets: secrets) else {
            throw .unauthorized("bad_signature", "signature does not match")
        }
        guard let webhook = try platform.describe(headers, outcome: &outcome) else { return }

        let envelope = EventEnvelope(
            source: platform.source, shop: shop, topic: webhook.topic, deliveryId: webhook.deliveryId,
            eventId: webhook.eventId, triggeredAt: webhook.triggeredAt, apiVersion: webhook.apiVersion,
            receivedAtMillis: Int64(Date().timeIntervalSince1970 * 1000), body: body)
        outcome.eventId = envelope.eventId
        do throws(PublishFailure) {
            try await publisher.publish(envelope)
        } catch {
            outcome.error = error.detail
            throw .unavailable(error)
        }
    }
}
