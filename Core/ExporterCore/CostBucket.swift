/// Shopify's cost-based leaky bucket for one shop, as the exporter sees it from `throttleStatus`.
///
/// The limits are never hard-coded: every response reports `maximumAvailable`, `currentlyAvailable` and
/// `restoreRate`, and the bucket follows them. Before a request the caller reserves its cost and waits the time
/// this returns, so a shop is never sent a request Shopify would refuse for cost; after a refusal
/// (`THROTTLED`, or 429 with `Retry-After`) nothing is sent before the time Shopify named.
package struct CostBucket: Equatable {
    /// Bucket size in points.
    package private(set) var maximum: Double
    /// Points available at ``updatedAt``.
    package private(set) var available: Double
    /// Points restored per second.
    package private(set) var restoreRate: Double
    /// When ``available`` was last known.
    package private(set) var updatedAt: ContinuousClock.Instant
    /// No request before this instant (a `Retry-After`).
    package private(set) var blockedUntil: ContinuousClock.Instant?

    /// Starts with a guess (Shopify's smallest plan) until the first response tells the real figures.
    package init(now: ContinuousClock.Instant, maximum: Double = 1_000, restoreRate: Double = 50) {
        self.maximum = maximum
        self.available = maximum
        self.restoreRate = restoreRate
        self.updatedAt = now
    }

    /// Points available at `now`.
    package func current(at now: ContinuousClock.Instant) -> Double {
        let elapsed = Self.seconds(now - updatedAt)
        return min(maximum, available + max(0, elapsed) * restoreRate)
    }

    /// Reserves `cost` points and returns how long to wait before sending (zero when it can go now).
    package mutating func reserve(cost: Double, at now: ContinuousClock.Instant) -> Duration {
        // Reservations queue: a request goes no earlier than the one reserved before it, nor before a Retry-After.
        var sendAt = max(now, updatedAt)
        if let blockedUntil, blockedUntil > sendAt { sendAt = blockedUntil }
        let needed = min(cost, maximum)
        let have = current(at: sendAt)
        if have < needed {
            let rate = max(restoreRate, 0.001)
            sendAt = sendAt + .milliseconds(Int64(((needed - have) / rate * 1000).rounded(.up)))
        }
        available = current(at: sendAt) - needed
        updatedAt = sendAt
        return sendAt - now
    }

    /// Adopts the figures Shopify reported with a response.
    package mutating func update(
        maximum: Double, currentlyAvailable: Double, restoreRate: Double, at now: ContinuousClock.Instant
    ) {
        guard maximum > 0, restoreRate > 0 else { return }
        self.maximum = maximum
        self.available = min(maximum, max(0, currentlyAvailable))
        self.restoreRate = restoreRate
        self.updatedAt = now
    }

    /// Shopify refused for cost: nothing goes out before `retryAfter` (when given) or before the bucket refills
    /// enough for `cost`.
    package mutating func throttled(retryAfter: Duration?, cost: Double, at now: ContinuousClock.Instant) {
        let refill = Duration.milliseconds(Int64((max(0, cost - current(at: now)) / max(restoreRate, 0.001) * 1000).rounded(.up)))
        let wait = max(retryAfter ?? .zero, refill, .milliseconds(100))
        blockedUntil = now + wait
        available = max(0, current(at: now) - cost)
        updatedAt = now
    }

    private static func seconds(_ d: Duration) -> Double {
        let (s, a) = d.components
        return Double(s) + Double(a) / 1e18
    }
}
