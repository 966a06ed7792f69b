/// Faults injected into one shop's Admin API, settable at run time (`PUT /_control/shops/<domain>/faults`).
///
/// A PUT replaces the whole set: fields left out go back to their defaults (no fault).
public struct ShopFaults: Sendable, Codable, Equatable {
    /// Milliseconds added before every Admin API answer. Default 0.
    public var latencyMs: Int
    /// Share of Admin API requests (0…1) answered 502 or 503 with nothing applied. Default 0.
    public var errorRate: Double
    /// While true, Admin API requests are held unanswered (up to the configured maximum, then 503). Default false.
    public var hang: Bool
    /// While true, every Admin API request is answered 401 as for a revoked token. Default false.
    public var tokenRevoked: Bool
    /// While true, the cost bucket is held empty, so every request is throttled. Default false.
    public var throttled: Bool
    /// When true, throttled requests get HTTP 429 with `Retry-After` instead of HTTP 200 `THROTTLED`. Default false.
    public var throttle429: Bool
    /// A state in which Shopify does not serve the shop's Admin API at all; nil (default): served.
    public var state: ShopUnavailability?
    /// Every query cost (requested and actual) multiplied by this. Default 1. Shopify sets and changes field costs
    /// itself ("Running a query is the best way to find out its true cost",
    /// https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits#cost-calculation): a client must follow
    /// the `requestedQueryCost` it is answered, not its own arithmetic.
    public var costScale: Double
    /// Milliseconds after its creation before a variant is found by `productVariants(query:)`. Default 0. Shopify's
    /// search is an index updated after the product is created (https://shopify.dev/docs/api/usage/search-syntax).
    public var searchLagMs: Int

    /// No faults, or the given ones.
    public init(
        latencyMs: Int = 0, errorRate: Double = 0, hang: Bool = false, tokenRevoked: Bool = false,
        throttled: Bool = false, throttle429: Bool = false, state: ShopUnavailability? = nil, costScale: Double = 1,
        searchLagMs: Int = 0
    ) {
        self.searchLagMs = searchLagMs
        self.state = state
        self.costScale = costScale
        self.latencyMs = latencyMs
        self.errorRate = errorRate
        self.hang = hang
        self.tokenRevoked = tokenRevoked
        self.throttled = throttled
        self.throttle429 = throttle429
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        latencyMs = try c.decodeIfPresent(Int.self, forKey: .latencyMs) ?? 0
        errorRate = try c.decodeIfPresent(Double.self, forKey: .errorRate) ?? 0
        hang = try c.decodeIfPresent(Bool.self, forKey: .hang) ?? false
        tokenRevoked = try c.decodeIfPresent(Bool.self, forKey: .tokenRevoked) ?? false
        throttled = try c.decodeIfPresent(Bool.self, forKey: .throttled) ?? false
        throttle429 = try c.decodeIfPresent(Bool.self, forKey: .throttle429) ?? false
        state = try c.decodeIfPresent(ShopUnavailability.self, forKey: .state)
        costScale = try c.decodeIfPresent(Double.self, forKey: .costScale) ?? 1
        searchLagMs = try c.decodeIfPresent(Int.self, forKey: .searchLagMs) ?? 0
    }
}

/// The states in which Shopify answers a shop's Admin API requests with a refusal instead of data, as its response
/// codes page describes them (https://shopify.dev/docs/api/usage/response-codes). The bodies' wording is not
/// documented; these follow what apps report.
public enum ShopUnavailability: String, Sendable, Codable, CaseIterable {
    /// 402 Payment Required: "The requested shop is currently frozen. The shop owner needs to log in to the shop's
    /// admin and pay the outstanding balance to unfreeze the shop."
    case frozen
    /// 423 Locked: the shop is locked (since 2018 instead of 420:
    /// https://shopify.dev/changelog/admin-api-requests-to-locked-stores-will-return-a-423-status-code-instead-of-420).
    case locked
    /// 404 Not Found: the shop is closed (or gone); "could be available again in the future".
    case closed
    /// 403 Forbidden: "generally returned if you haven't requested the appropriate scope for this action".
    case scopeMissing = "scope-missing"
    /// HTTP 200 with a GraphQL error `ACCESS_DENIED`: the token lacks the access scope a field needs.
    case accessDenied = "access-denied"

    /// The HTTP status and body Shopify answers with.
    var answer: (status: Int, body: String) {
        switch self {
        case .frozen: return (402, #"{"errors":"Unavailable Shop"}"#)
        case .locked: return (423, #"{"errors":"This shop is unavailable"}"#)
        case .closed: return (404, #"{"errors":"Not Found"}"#)
        case .scopeMissing:
            return (403, #"{"errors":"[API] This action requires merchant approval for write_inventory scope."}"#)
        case .accessDenied:
            return (
                200,
                #"{"errors":[{"message":"Access denied for inventorySetQuantities field. Required access: `write_inventory` access scope.","#
                    + #""extensions":{"code":"ACCESS_DENIED","documentation":"https://shopify.dev/api/usage/access-scopes"}}]}"#
            )
        }
    }
}

/// Faults injected into webhook delivery, for all shops (`PUT /_control/webhooks/faults`).
///
/// A PUT replaces the whole set: fields left out go back to their defaults (no fault).
public struct WebhookFaults: Sendable, Codable, Equatable {
    /// Share of webhooks (0…1) delivered a second time: new `X-Shopify-Webhook-Id`, same `X-Shopify-Event-Id`.
    public var duplicateRate: Double
    /// Each delivery waits a random 0…`reorderWindowMs` before its first attempt, so deliveries within the
    /// window arrive shuffled. Default 0.
    public var reorderWindowMs: Int
    /// Milliseconds every delivery waits before its first attempt. Default 0.
    public var delayMs: Int
    /// Share of webhooks (0…1) never delivered at all (Shopify does lose some). Default 0.
    public var dropRate: Double

    /// No faults, or the given ones.
    public init(duplicateRate: Double = 0, reorderWindowMs: Int = 0, delayMs: Int = 0, dropRate: Double = 0) {
        self.duplicateRate = duplicateRate
        self.reorderWindowMs = reorderWindowMs
        self.delayMs = delayMs
        self.dropRate = dropRate
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        duplicateRate = try c.decodeIfPresent(Double.self, forKey: .duplicateRate) ?? 0
        reorderWindowMs = try c.decodeIfPresent(Int.self, forKey: .reorderWindowMs) ?? 0
        delayMs = try c.decodeIfPresent(Int.self, forKey: .delayMs) ?? 0
        dropRate = try c.decodeIfPresent(Double.self, forKey: .dropRate) ?? 0
    }
}
