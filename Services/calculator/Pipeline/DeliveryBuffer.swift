import AMQP
import Synchronization

/// Deliveries taken from the consumer and waiting to form a batch: up to N or whatever arrived within the linger time.
final class DeliveryBuffer: Sendable {
    private struct State {
        var items: [AMQPDelivery] = []
        var finished = false
        var failure: (any Error)?
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    /// Pushes every delivery of `consumer` until it ends, then finishes the buffer (with the consumer's error, if any).
    func fill(from consumer: AMQPConsumer) async {
        do {
            for try await delivery in consumer { push(delivery) }
            finish()
        } catch {
            finish(error: error)
        }
    }

    /// Adds a delivery and wakes a waiting batcher.
    func push(_ delivery: AMQPDelivery) {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.items.append(delivery)
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    /// Marks the end of the deliveries (consumer cancelled or connection closed for good).
    func finish(error: (any Error)? = nil) {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.finished = true
            s.failure = error
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    /// The error the consumer ended with, if any.
    var failure: (any Error)? { state.withLock { $0.failure } }

    /// Waits for the first delivery, then up to `linger` for up to `max` deliveries; nil when finished and empty.
    func take(max: Int, linger: Duration) async -> [AMQPDelivery]? {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { s -> Bool in
                if !s.items.isEmpty || s.finished { return true }
                s.waiter = c
                return false
            }
            if resumeNow { c.resume() }
        }
        // Woken by a push (items) or by finish (maybe empty).
        if state.withLock({ $0.items.isEmpty }) { return nil }
        let deadline = ContinuousClock.now + linger
        while state.withLock({ $0.items.count < max && !$0.finished }), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(1))
        }
        return state.withLock { s in
            let n = min(max, s.items.count)
            let batch = Array(s.items.prefix(n))
            s.items.removeFirst(n)
            return batch
        }
    }
}
