/// Shopify's GraphQL cost limit as a pure value: a bucket of points that requests drain and time refills.
///
/// Time is passed in (seconds on any monotonic clock), so the arithmetic is tested without sleeping.
public struct LeakyBucket: Sendable, Equatable {
    /// Bucket size in points.
    public var maximumAvailable: Double
    /// Points restored per second.
    public var restoreRate: Double
    /// Points available at ``updatedAt``.
    public private(set) var available: Double
    /// When ``available`` was last brought up to date.
    public private(set) var updatedAt: Double

    /// A full bucket for `plan` at time `now`.
    public init(plan: RateLimitPlan, now: Double) {
        maximumAvailable = plan.maximumAvailable
        restoreRate = plan.restoreRate
        available = plan.maximumAvailable
        updatedAt = now
    }

    /// Points available at `now`.
    public func currentlyAvailable(at now: Double) -> Double {
        min(maximumAvailable, available + max(0, now - updatedAt) * restoreRate)
    }

    /// Takes `cost` points when that many are available at `now`; returns false (and takes nothing) otherwise.
    public mutating func consume(_ cost: Double, at now: Double) -> Bool {
        refill(at: now)
        guard cost <= available else { return false }
        available -= cost
        return true
    }

    /// Gives back `points` (the part of a requested cost a query did not use).
    public mutating func refund(_ points: Double, at now: Double) {
        refill(at: now)
        available = min(maximumAvailable, available + max(0, points))
    }

    /// Empties the bucket at `now`; it refills from zero afterwards.
    public mutating func drain(at now: Double) {
        available = 0
        updatedAt = now
    }

    /// Whole seconds until `cost` points will be available (at least 1), for `Retry-After`.
    public func secondsUntilAvailable(_ cost: Double, at now: Double) -> Int {
        let missing = cost - currentlyAvailable(at: now)
        guard missing > 0 else { return 1 }
        return max(1, Int((missing / restoreRate).rounded(.up)))
    }

    /// Changes the plan, keeping the points currently available (capped at the new maximum).
    public mutating func apply(_ plan: RateLimitPlan, at now: Double) {
        refill(at: now)
        maximumAvailable = plan.maximumAvailable
        restoreRate = plan.restoreRate
        available = min(available, maximumAvailable)
    }

    private mutating func refill(at now: Double) {
        available = currentlyAvailable(at: now)
        updatedAt = max(updatedAt, now)
    }
}
