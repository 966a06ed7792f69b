/// One Admin API call as the write log records it (`GET /_control/shops/<domain>/writes`).
public struct WriteLogEntry: Sendable, Codable, Equatable {
    /// Position in the log, from 1, across all shops; pass it as `since` to read only newer entries.
    public var sequence: Int
    /// When the call was answered (UTC, fractional seconds).
    public var time: String
    /// The shop's domain.
    public var shop: String
    /// The API version from the URL (`2026-10`).
    public var apiVersion: String
    /// The root field (`inventorySetQuantities`, `productVariants`, …), or `unknown` when unreadable.
    public var operation: String
    /// HTTP status answered.
    public var httpStatus: Int
    /// `applied`, `replayed`, `stale`, `throttled`, `ok` (a read), a userError code (`INVALID_LOCATION`, …),
    /// a top-level error code (`undefinedField`, …), `unauthorized`, `fault-502`/`fault-503`, or `hang-timeout`.
    public var result: String
    /// The `@idempotent` key, for mutations.
    public var idempotencyKey: String?
    /// Points the call asked for.
    public var requestedCost: Double
    /// The quantities of an `inventorySetQuantities`, as sent.
    public var quantities: [LoggedQuantity]?
    /// The variables, compact JSON, cut at 2,000 characters.
    public var variables: String
    /// Seconds of the `Retry-After` header answered with a 429, else nil.
    public var retryAfter: Int? = nil
    /// For an `applied` mutation: its place among all mutations the simulator applied, numbered in the step that
    /// applied it. This is the shops' own order of writes; `sequence` and `time` are taken when the answer is logged,
    /// later, where two calls in flight at once can swap (and a millisecond holds several writes).
    public var appliedOrder: Int? = nil
}

/// One quantity of a logged `inventorySetQuantities`.
public struct LoggedQuantity: Sendable, Codable, Equatable {
    public var inventoryItemId: String
    public var locationId: String
    public var quantity: Int
    /// nil when sent as `null` (no check).
    public var changeFromQuantity: Int?
}

/// One webhook delivery attempt (or a webhook dropped by a fault), as `GET /_control/webhooks` lists it.
public struct WebhookDeliveryRecord: Sendable, Codable, Equatable {
    /// Position in the log, from 1; pass it as `since` to read only newer records.
    public var sequence: Int
    public var shop: String
    public var topic: String
    /// `X-Shopify-Webhook-Id`: the same on every retry of one delivery.
    public var webhookId: String
    /// `X-Shopify-Event-Id`: the same for every webhook of one action, and for injected duplicates.
    public var eventId: String
    /// 1 for the first attempt, up to 9 (8 retries).
    public var attempt: Int
    /// HTTP status the receiver answered; nil on a connection error or timeout.
    public var status: Int?
    /// `delivered`, `retrying`, `gave-up`, or `dropped` (never sent, by the drop fault).
    public var outcome: String
    /// Transport error, when there was one.
    public var error: String?
    /// True for a copy injected by the duplicate fault.
    public var duplicate: Bool
    /// When the attempt finished (UTC, fractional seconds).
    public var time: String
}
