/// What a shop writer does after each call to the shop — wait for the bucket, back off, send again under the same or a
/// new idempotency key, pause the shop — decided without I/O. The writer (`ShopWriter+Shop.swift`) performs the
/// actions: it sleeps, logs, counts and calls.
///
/// Two kinds of state: the pause, which is the shop's (one per writer: a refused token pauses every call), and the
/// backoff, which is one call's (``Call``: it starts short for every new request and doubles while that request keeps
/// failing).
package struct ShopCallPolicy: Equatable, Sendable {
    /// The first backoff of a call.
    package let firstBackoff: Duration
    /// The longest backoff.
    package let maxBackoff: Duration
    /// The first wait of a paused shop before it is tried again.
    package let pauseRetry: Duration
    /// The longest wait of a paused shop.
    package let maxPause: Duration
    /// The reason a refused token (``ShopPlatform/Failure/unauthorized``) pauses the shop with: it names the token file.
    package let unauthorizedReason: String

    /// Why the shop is paused, nil while it answers.
    package private(set) var pausedReason: String?
    /// The wait before the next try of the paused shop; doubles up to ``maxPause``, reset when it answers or the
    /// reason changes.
    package private(set) var pauseWait: Duration

    package init(
        maxBackoff: Duration, pauseRetry: Duration, maxPause: Duration, unauthorizedReason: String,
        firstBackoff: Duration = .milliseconds(200)
    ) {
        self.firstBackoff = firstBackoff
        self.maxBackoff = maxBackoff
        self.pauseRetry = pauseRetry
        self.maxPause = maxPause
        self.unauthorizedReason = unauthorizedReason
        self.pauseWait = pauseRetry
    }

    /// One request's retries: its backoff, which doubles with every wait up to ``ShopCallPolicy/maxBackoff``.
    package struct Call: Equatable, Sendable {
        /// The next backoff.
        package private(set) var backoff: Duration
        /// How many items the request covers when it can be sent as two smaller ones (a level read); 1 otherwise.
        package let items: Int

        /// Returns the backoff to wait now and doubles the next one, up to `maximum`.
        mutating func backOff(maximum: Duration) -> Duration {
            let wait = backoff
            backoff = min(backoff * 2, maximum)
            return wait
        }
    }

    /// The retries of a new request; `items`: how many items it covers when it can be split (a level read).
    package func call(items: Int = 1) -> Call { Call(backoff: firstBackoff, items: max(1, items)) }

    /// How one call ended.
    package enum Outcome: Equatable, Sendable {
        /// The shop answered (data, or a write's user errors).
        case answered
        /// A write's earlier attempt with the same key is still running (``ShopPlatform/WriteOutcome/attemptInProgress``).
        case attemptInProgress
        /// A write's earlier attempt with the same key failed (``ShopPlatform/WriteOutcome/attemptFailed``).
        case attemptFailed
        /// No data.
        case failed(ShopPlatform.Failure)

        /// The outcome of a write the shop answered: `.answered` whatever its user errors.
        package init(_ written: ShopPlatform.WriteOutcome) {
            switch written {
            case .answered: self = .answered
            case .attemptInProgress: self = .attemptInProgress
            case .attemptFailed: self = .attemptFailed
            }
        }
    }

    /// What the driver does next.
    package enum Action: Equatable, Sendable {
        /// Take the answer.
        case done
        /// Wait, then send again under the same key.
        case retrySameKey(after: Duration)
        /// Send again at once under a new key.
        case retryNewKey
        /// Throttled: adopt `status`, tell the bucket (`retryAfter` when named), and send again once it allows.
        case waitForBucket(retryAfter: Duration?, status: ShopPlatform.ThrottleStatus?)
        /// Wait, then send the same request again. `failure` is one of `transient` (logged as a warning and counted),
        /// `rejected` and `tooCostly` of a request that cannot be split (bugs on our side or a changed rule: logged as
        /// errors, retried rather than dropped).
        case backOff(after: Duration, failure: ShopPlatform.Failure)
        /// The request was over the shop's cost maximum per query and covers several items: send its first `at` items
        /// and the rest as two requests, at once (nothing was charged). `cost`: what the shop said the whole would
        /// cost, if it said, for the driver to learn the cost per item from.
        case split(at: Int, cost: Double?)
        /// Pause the shop in `state` for `reason`, then wait and try again (the try is the probe that resumes it).
        /// `announce`: the reason changed, so the pause is logged (once per reason, not at every try).
        case pause(state: String, reason: String, announce: Bool, after: Duration)
    }

    /// The action for `outcome` of `call`. Answers do not resume the shop by themselves: the driver calls ``resume()``
    /// on every answer, whatever it says.
    package mutating func next(after outcome: Outcome, call: inout Call) -> Action {
        switch outcome {
        case .answered: return .done
        case .attemptInProgress: return .retrySameKey(after: call.backOff(maximum: maxBackoff))
        case .attemptFailed: return .retryNewKey
        case .failed(let failure):
            switch failure {
            case .throttled(let retryAfter, let status): return .waitForBucket(retryAfter: retryAfter, status: status)
            case .tooCostly(let cost) where call.items > 1: return .split(at: call.items / 2, cost: cost)
            case .transient, .rejected, .tooCostly: return .backOff(after: call.backOff(maximum: maxBackoff), failure: failure)
            case .unauthorized: return pause(state: "unauthorized", reason: unauthorizedReason)
            case .refused(let refusal): return pause(state: refusal.name, reason: refusal.reason)
            }
        }
    }

    /// Pauses the shop: announced when the reason changed (the wait then starts again at ``pauseRetry``); each try
    /// doubles the next wait up to ``maxPause``.
    private mutating func pause(state: String, reason: String) -> Action {
        let announce = pausedReason != reason
        if announce { pauseWait = pauseRetry }
        pausedReason = reason
        let wait = pauseWait
        pauseWait = min(pauseWait * 2, maxPause)
        return .pause(state: state, reason: reason, announce: announce, after: wait)
    }

    /// The shop answered: it is no longer paused, and a later pause waits ``pauseRetry`` first. Returns the reason it
    /// was paused for, nil when it was not (the driver logs that it resumes).
    package mutating func resume() -> String? {
        let was = pausedReason
        pausedReason = nil
        pauseWait = pauseRetry
        return was
    }

    /// The shop answers but cannot be written until its configuration is fixed (`reason`): not written, reported as
    /// paused, tried again after ``pauseRetry`` (not doubled, nothing announced but by the caller).
    package mutating func hold(_ reason: String) -> Duration {
        pausedReason = reason
        return pauseRetry
    }
}
