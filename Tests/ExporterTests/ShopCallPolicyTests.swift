import Testing

@testable import ExporterCore

/// The shop writer's decisions after each call to the shop (issue #20), without a shop: waits, backoff, idempotency
/// keys, pauses and resumes.
@Suite struct ShopCallPolicyTests {
    static let unauthorized = "token refused: fix the token file"
    static let frozen = ShopPlatform.Refusal(name: "frozen", reason: "shop frozen")
    static let locked = ShopPlatform.Refusal(name: "locked", reason: "shop locked")
    static let status = ShopPlatform.ThrottleStatus(maximumAvailable: 1_000, currentlyAvailable: 10, restoreRate: 50)

    /// One outcome of every kind (and both shapes of the throttled one).
    static let outcomes: [ShopCallPolicy.Outcome] = [
        .answered, .attemptInProgress, .attemptFailed, .failed(.unauthorized),
        .failed(.throttled(retryAfter: nil, status: nil)), .failed(.throttled(retryAfter: .seconds(2), status: status)),
        .failed(.transient("timeout")), .failed(.rejected("bad query")), .failed(.refused(frozen)),
        .failed(.refused(locked)), .failed(.tooCostly(cost: nil)), .failed(.tooCostly(cost: 1_200)),
    ]

    func policy(maxBackoff: Duration = .seconds(30), pauseRetry: Duration = .seconds(30), maxPause: Duration = .seconds(600))
        -> ShopCallPolicy
    {
        ShopCallPolicy(maxBackoff: maxBackoff, pauseRetry: pauseRetry, maxPause: maxPause, unauthorizedReason: Self.unauthorized)
    }

    // MARK: - One outcome

    @Test(arguments: outcomes) func everyOutcomeKindHasItsAction(_ outcome: ShopCallPolicy.Outcome) {
        var p = policy()
        var call = p.call()
        let action = p.next(after: outcome, call: &call)
        let first = Duration.milliseconds(200)
        switch outcome {
        case .answered: #expect(action == .done)
        case .attemptInProgress: #expect(action == .retrySameKey(after: first))
        case .attemptFailed: #expect(action == .retryNewKey)
        case .failed(let failure):
            switch failure {
            case .throttled(let retryAfter, let status):
                #expect(action == .waitForBucket(retryAfter: retryAfter, status: status))
            case .transient, .rejected, .tooCostly: #expect(action == .backOff(after: first, failure: failure))
            case .unauthorized:
                #expect(action == .pause(state: "unauthorized", reason: Self.unauthorized, announce: true, after: .seconds(30)))
            case .refused(let r): #expect(action == .pause(state: r.name, reason: r.reason, announce: true, after: .seconds(30)))
            }
        }
        // Only a pause pauses the shop; only a wait of the call's own grows its backoff.
        if case .pause(_, let reason, _, _) = action {
            #expect(p.pausedReason == reason)
            #expect(p.pauseWait == .seconds(60))
        } else {
            #expect(p.pausedReason == nil)
            #expect(p.pauseWait == .seconds(30))
        }
        switch action {
        case .retrySameKey, .backOff: #expect(call.backoff == .milliseconds(400))
        default: #expect(call.backoff == first)
        }
    }

    // MARK: - Backoff

    @Test func backoffDoublesUpToItsCap() {
        var p = policy(maxBackoff: .seconds(1))
        var call = p.call()
        let waits = (0..<6).map { _ in p.next(after: .failed(.transient("5xx")), call: &call) }
        #expect(
            waits
                == [200, 400, 800, 1_000, 1_000, 1_000].map {
                    .backOff(after: .milliseconds($0), failure: .transient("5xx"))
                })
    }

    @Test func oneRequestsWaitsShareItsBackoffAndANewRequestStartsShort() {
        var p = policy()
        var call = p.call()
        #expect(p.next(after: .attemptInProgress, call: &call) == .retrySameKey(after: .milliseconds(200)))
        #expect(
            p.next(after: .failed(.rejected("r")), call: &call) == .backOff(after: .milliseconds(400), failure: .rejected("r")))
        // Throttling, a new key and a pause wait elsewhere: the backoff stays.
        _ = p.next(after: .failed(.throttled(retryAfter: nil, status: nil)), call: &call)
        _ = p.next(after: .attemptFailed, call: &call)
        _ = p.next(after: .failed(.unauthorized), call: &call)
        #expect(
            p.next(after: .failed(.tooCostly(cost: 2)), call: &call)
                == .backOff(after: .milliseconds(800), failure: .tooCostly(cost: 2)))
        var next = p.call()
        #expect(p.next(after: .attemptInProgress, call: &next) == .retrySameKey(after: .milliseconds(200)))
    }

    /// A read of several items over the shop's cost maximum is sent as two smaller ones at once (nothing was charged,
    /// so nothing to wait for); a request of one item, or one that cannot be split, backs off like any refusal.
    @Test func aReadOverTheCostMaximumSplitsInTwoAndOnlyASplittableOne() {
        var p = policy()
        for items in [2, 3, 250] {
            var read = p.call(items: items)
            #expect(p.next(after: .failed(.tooCostly(cost: 1_500)), call: &read) == .split(at: items / 2, cost: 1_500))
            #expect(p.next(after: .failed(.tooCostly(cost: nil)), call: &read) == .split(at: items / 2, cost: nil))
            #expect(read.backoff == .milliseconds(200), "a split is no wait: the request's backoff stays short")
            // Only a too costly answer splits it: the read's other failures are those of any call.
            #expect(
                p.next(after: .failed(.transient("5xx")), call: &read)
                    == .backOff(after: .milliseconds(200), failure: .transient("5xx")))
        }
        for items in [1, 0] {
            var single = p.call(items: items)
            #expect(
                p.next(after: .failed(.tooCostly(cost: 1_200)), call: &single)
                    == .backOff(after: .milliseconds(200), failure: .tooCostly(cost: 1_200)))
        }
        #expect(p.pausedReason == nil)
    }

    @Test func aFailedAttemptRenewsTheKeyAtOnceEveryTime() {
        var p = policy()
        var call = p.call()
        for _ in 0..<3 { #expect(p.next(after: .attemptFailed, call: &call) == .retryNewKey) }
        #expect(call.backoff == .milliseconds(200))
    }

    // MARK: - Pause

    @Test func aPauseIsAnnouncedOncePerReasonAndItsWaitDoublesUpToItsCap() {
        var p = policy(pauseRetry: .seconds(30), maxPause: .seconds(100))
        var call = p.call()
        let actions = (0..<4).map { _ in p.next(after: .failed(.refused(Self.frozen)), call: &call) }
        #expect(
            actions == [
                .pause(state: "frozen", reason: "shop frozen", announce: true, after: .seconds(30)),
                .pause(state: "frozen", reason: "shop frozen", announce: false, after: .seconds(60)),
                .pause(state: "frozen", reason: "shop frozen", announce: false, after: .seconds(100)),
                .pause(state: "frozen", reason: "shop frozen", announce: false, after: .seconds(100)),
            ])
        // Another reason is announced, and waits the first wait again.
        #expect(
            p.next(after: .failed(.refused(Self.locked)), call: &call)
                == .pause(state: "locked", reason: "shop locked", announce: true, after: .seconds(30)))
        #expect(
            p.next(after: .failed(.unauthorized), call: &call)
                == .pause(state: "unauthorized", reason: Self.unauthorized, announce: true, after: .seconds(30)))
        #expect(
            p.next(after: .failed(.unauthorized), call: &call)
                == .pause(state: "unauthorized", reason: Self.unauthorized, announce: false, after: .seconds(60)))
        #expect(p.pausedReason == Self.unauthorized)
    }

    @Test func anAnswerResumesAndTheNextPauseIsAnnouncedAndShortAgain() {
        var p = policy()
        var call = p.call()
        #expect(p.resume() == nil, "a shop that was not paused does not resume")
        _ = p.next(after: .failed(.refused(Self.frozen)), call: &call)
        _ = p.next(after: .failed(.refused(Self.frozen)), call: &call)
        #expect(p.pauseWait == .seconds(120))
        #expect(p.resume() == "shop frozen")
        #expect(p.pausedReason == nil)
        #expect(p.pauseWait == .seconds(30))
        #expect(p.resume() == nil)
        #expect(
            p.next(after: .failed(.refused(Self.frozen)), call: &call)
                == .pause(state: "frozen", reason: "shop frozen", announce: true, after: .seconds(30)))
    }

    @Test func aHeldShopReportsItsReasonWaitsTheFirstWaitAndKeepsThePauseWait() {
        var p = policy()
        var call = p.call()
        _ = p.next(after: .failed(.unauthorized), call: &call)
        #expect(p.hold("location_id not configured") == .seconds(30))
        #expect(p.pausedReason == "location_id not configured")
        #expect(p.pauseWait == .seconds(60))
        #expect(p.resume() == "location_id not configured")
    }

    // MARK: - Every sequence

    /// Every sequence of up to four outcomes, each kind at every place, against a plain model: the backoff is the
    /// first doubled once per earlier wait of the call (capped), the pause wait the first doubled once per earlier
    /// pause with the same reason since the reason last changed or the shop answered (capped), and a pause is
    /// announced exactly when its reason differs from the one before it in that run; a too costly answer splits a call
    /// of several items at once and backs off a call of one. Each sequence runs as a call of one item and of four.
    @Test(arguments: [1, 4]) func everySequenceOfOutcomesFollowsThePlainModel(items: Int) {
        let kinds = Self.outcomes
        var sequences: [[ShopCallPolicy.Outcome]] = [[]]
        for _ in 0..<4 { sequences = sequences.flatMap { s in kinds.map { s + [$0] } } }
        #expect(sequences.count == 20_736)
        let maxBackoff = Duration.milliseconds(700)
        let maxPause = Duration.seconds(100)
        var failures: [String] = []
        for sequence in sequences {
            var p = policy(maxBackoff: maxBackoff, pauseRetry: .seconds(30), maxPause: maxPause)
            var call = p.call(items: items)
            var waits = 0
            var paused: (reason: String, times: Int)?
            var ok = true
            for outcome in sequence {
                if outcome == .answered || outcome == .attemptInProgress || outcome == .attemptFailed {
                    // An answer of any kind resumes the shop (the driver calls resume on every answer).
                    ok = ok && p.resume() == paused?.reason
                    paused = nil
                }
                let action = p.next(after: outcome, call: &call)
                if case .failed(.tooCostly(let cost)) = outcome, items > 1 {
                    ok = ok && action == .split(at: items / 2, cost: cost)
                }
                switch action {
                case .retrySameKey(let after), .backOff(let after, _):
                    ok = ok && after == min(.milliseconds(200) * (1 << waits), maxBackoff)
                    waits += 1
                case .pause(_, let reason, let announce, let after):
                    let same = paused?.reason == reason
                    let times = same ? paused!.times : 0
                    ok = ok && announce == !same && after == min(.seconds(30) * (1 << times), maxPause)
                    paused = (reason, times + 1)
                case .split: ok = ok && items > 1
                case .done, .retryNewKey, .waitForBucket: break
                }
                ok = ok && p.pausedReason == paused?.reason
                ok = ok && call.backoff == min(.milliseconds(200) * (1 << waits), maxBackoff)
            }
            if !ok { failures.append("\(sequence)") }
        }
        let failed = failures.count  // the count, not the list, in the expectation: thousands of sequences can fail at once
        #expect(failed == 0, "first sequences off the model: \(failures.prefix(3))")
    }
}
