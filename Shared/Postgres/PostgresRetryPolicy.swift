/// How ``PostgresConnection/retryingTransaction(isolation:retry:caller:_:)`` retries serialization failures and
/// deadlocks.
public struct PostgresRetryPolicy: Sendable, Hashable {
    /// Total attempts including the first; at least 1.
    public var maxAttempts: Int
    /// Delay before the second attempt; doubles for each further attempt.
    public var baseDelay: Duration
    /// Upper bound for one delay before jitter.
    public var maxDelay: Duration

    /// Creates a policy.
    public init(maxAttempts: Int = 5, baseDelay: Duration = .milliseconds(5), maxDelay: Duration = .milliseconds(200)) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// Five attempts, 5 ms base delay, 200 ms cap.
    public static let `default` = PostgresRetryPolicy()

    /// The jittered wait after failed attempt `attempt` (1-based): uniformly 50–150 % of the exponential delay.
    func delay(afterAttempt attempt: Int) -> Duration {
        let exponential = baseDelay * (1 << min(attempt - 1, 20))
        let capped = min(exponential, maxDelay)
        return capped * Double.random(in: 0.5..<1.5)
    }
}
