import Contracts
import HTTPTypes
import Logging
import NIOCore

/// A shop platform's inbound side in ingest: how its webhooks name their shop, prove they are genuine and say what
/// they are. ``WebhookController`` does what every platform shares (the size and media type, the shop's secrets, the
/// body within its limit, budget and read timeout, nothing published before every check passed); Shopify is one
/// platform (`Shopify/ShopifyWebhooks.swift`). A second platform is a folder of its own with a type conforming to
/// this, a route in `IngestApplication.swift` (``IngestResponder/webhook(_:context:controller:)`` answers for any
/// platform's controller) and a decoder in the calculator (`PlatformEventDecoder`). For an example of one, see
/// `MarketWebhooks` in `Tests/IngestTests/SecondPlatformTests.swift`: a test-only marketplace mounted on a router of
/// its own, with what the controller does for it checked over HTTP against a real broker
/// (`SecondPlatformIntegrationTests`).
protocol WebhookPlatform: Sendable {
    /// What the headers said, read once before the body.
    associatedtype Headers: Sendable

    /// The source its events carry in their envelope.
    var source: EventEnvelope.Source { get }

    /// Reads the headers once.
    func headers(_ fields: HTTPFields) -> Headers

    /// The shop the headers name, as sent (it is checked against the known shops next); refused when absent.
    func shop(in headers: Headers) throws(IngestRejection) -> String

    /// The body's signature; refused when absent, before the body is read.
    func signature(in headers: Headers) throws(IngestRejection) -> String

    /// Whether `signature` proves the raw body was sent by the platform for a shop with these secrets.
    func isGenuine(body: [UInt8], signature: String, secrets: [[UInt8]]) -> Bool

    /// What a genuine webhook is: its topic and ids (the topic goes into `outcome` as soon as it is checked), or nil
    /// when it is answered but not published (nothing in it moves stock or needs keeping). Refused when the headers
    /// do not say it well enough to be processed exactly once.
    func describe(_ headers: Headers, outcome: inout WebhookOutcome) throws(IngestRejection) -> VerifiedWebhook?
}

/// What a genuine webhook is, as the envelope carries it.
struct VerifiedWebhook: Sendable, Equatable {
    var topic: String
    /// The delivery's own id: the same on a redelivery, so the calculator applies it once.
    var deliveryId: String
    var eventId: String?
    var triggeredAt: String?
    var apiVersion: String?
}

/// What an accepted or refused webhook looked like, for metrics and logs.
///
/// The log metadata is only built when something logs it (refusals, and acceptances at `debug`).
struct WebhookOutcome {
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
