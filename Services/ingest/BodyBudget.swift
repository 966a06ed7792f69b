import Metrics
import Synchronization

/// The bytes of request bodies ingest holds at once, bounded as a whole.
///
/// One body may be as large as ``IngestConfiguration/maxBodyBytes`` (a `products/update` of a product with 2,048
/// variants is about 1.7 MB), but the connections ingest keeps (up to 4,096) times that would be gigabytes. Every
/// body takes its bytes from this budget as they arrive and gives them back when its request is answered (the event
/// published, or refused); a body that would take it over the limit is answered 503 with `Retry-After`, which
/// Shopify retries, instead of exhausting memory. Typical bodies (a few kilobytes) never come near it.
final class BodyBudget: Sendable {
    /// Bytes held at most.
    let limit: Int
    private let held = Atomic<Int>(0)
    private let highest = Atomic<Int>(0)
    private let gauge = Gauge(label: "stockwire_ingest_body_bytes_in_flight")

    init(limit: Int) { self.limit = limit }

    /// Takes `bytes` if they fit within the limit; false (nothing taken) when they do not.
    func take(_ bytes: Int) -> Bool {
        var current = held.load(ordering: .relaxed)
        while true {
            guard current + bytes <= limit else { return false }
            let (exchanged, original) = held.compareExchange(
                expected: current, desired: current + bytes, ordering: .acquiringAndReleasing)
            if exchanged {
                highest.max(current + bytes, ordering: .relaxed)
                gauge.record(current + bytes)
                return true
            }
            current = original
        }
    }

    /// Gives back bytes taken before.
    func give(_ bytes: Int) {
        guard bytes > 0 else { return }
        let now = held.subtract(bytes, ordering: .acquiringAndReleasing).newValue
        gauge.record(now)
    }

    /// Bytes held now.
    var inFlight: Int { held.load(ordering: .relaxed) }
    /// The most bytes ever held at once.
    var peak: Int { highest.load(ordering: .relaxed) }
}

/// One request's share of a ``BodyBudget``: grows as the body arrives, given back by ``end()`` when the request is
/// answered. Used by one request's task only.
final class BodyLease {
    private let budget: BodyBudget
    private(set) var taken = 0

    init(_ budget: BodyBudget) { self.budget = budget }

    /// Takes `bytes` more; false when the budget has no room (nothing taken).
    func grow(by bytes: Int) -> Bool {
        guard budget.take(bytes) else { return false }
        taken += bytes
        return true
    }

    func end() {
        budget.give(taken)
        taken = 0
    }
}
