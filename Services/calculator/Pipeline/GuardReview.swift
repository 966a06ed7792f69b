import Logging
import ServiceKit
import ServiceLifecycle

/// Looks at every SKU under the zero-oversell guard every `interval`: demand decays and shops go idle with time
/// alone, so surplus is given back and freed units re-allocated even while no event arrives. Each look is one
/// short transaction per round (``StockStore/reallocate(reports:allGuarded:computedAtMillis:)``); new versions are
/// published at once (the outbox relay covers a crash in between).
struct GuardReview: Service {
    let interval: Duration
    let store: StockStore
    let relay: OutboxRelay
    let logger: Logger

    func run() async throws {
        var failing = false
        while await waitForNextRound(interval) {
            do {
                let outbox = try await store.reallocate(reports: [], allGuarded: true, computedAtMillis: nowMillis())
                if !outbox.isEmpty { await relay.publishAndMark(outbox) }
                if failing { logger.info("guard review works again") }
                failing = false
            } catch {
                if !failing { logger.warning("guard review failed; retrying every interval", metadata: ["error": "\(error)"]) }
                failing = true
            }
        }
    }
}
