import Synchronization

/// A FIFO async lock giving one task at a time exclusive use of a connection.
///
/// A transaction spans many round trips with `await`s in between; without the gate another task's query could
/// land inside it. The holder is recorded in a task-local so code running inside the lease (the transaction body,
/// its child tasks, the migrator) re-enters without deadlocking.
final class ConnectionGate: Sendable {
    private struct State {
        var locked = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    /// Identifiers of the gates the current task (and its children) hold.
    @TaskLocal static var held: Set<UInt64> = []

    private static let nextID = Atomic<UInt64>(1)

    let id: UInt64 = ConnectionGate.nextID.wrappingAdd(1, ordering: .relaxed).oldValue
    private let state = Mutex(State())

    /// Whether the current task already holds this gate.
    var isHeldByCurrentTask: Bool { Self.held.contains(id) }

    /// Tasks waiting for the gate (tests wait on it: a query has reached the connection).
    var waiting: Int { state.withLock { $0.waiters.count } }

    /// Runs `body` holding the gate, or directly if the current task already holds it.
    func withLease<T>(
        isolation: isolated (any Actor)? = #isolation,
        _ body: () async throws -> T
    ) async throws -> T {
        if isHeldByCurrentTask { return try await body() }
        await lock()
        defer { unlock() }
        return try await Self.$held.withValue(Self.held.union([id])) {
            try await body()
        }
    }

    private func lock() async {
        let acquired = state.withLock { state in
            if state.locked { return false }
            state.locked = true
            return true
        }
        if acquired { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let acquiredNow = state.withLock { state in
                if !state.locked {
                    state.locked = true
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if acquiredNow { continuation.resume() }
        }
    }

    private func unlock() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiters.isEmpty {
                state.locked = false
                return nil
            }
            // Ownership passes straight to the next waiter; `locked` stays true.
            return state.waiters.removeFirst()
        }
        next?.resume()
    }
}
