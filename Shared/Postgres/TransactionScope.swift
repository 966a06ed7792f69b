import Synchronization

/// Marks whether a transaction's body is still running, and whether it committed with its last statements
/// (``PostgresTransaction/pipeline(_:commit:)``).
final class TransactionScope: Sendable {
    private struct State {
        var active = true
        var committed = false
    }

    private let state = Mutex(State())

    var isActive: Bool { state.withLock { $0.active } }

    func end() { state.withLock { $0.active = false } }

    /// The body committed with its last statements: the transaction is over.
    func committed() {
        state.withLock { state in
            state.committed = true
            state.active = false
        }
    }

    var isCommitted: Bool { state.withLock { $0.committed } }
}

/// The transaction that holds a connection's lease, if any. Its `BEGIN` waits for its first statement and goes with
/// it, in the same job and, for a pipeline, the same round trip (issue #19); any statement of the lease holder takes
/// it, through the transaction's handle or through the connection.
final class OpenTransaction: Sendable {
    private struct State {
        /// A transaction body is running.
        var open = false
        /// Its `BEGIN`, until a statement takes it.
        var pendingBegin: String?
        /// Its `BEGIN` was sent (so there is something to commit or roll back).
        var began = false
    }

    private let state = Mutex(State())

    /// Opens a transaction whose first statement sends `begin`; false when one is already open.
    func open(begin: String) -> Bool {
        state.withLock { state in
            guard !state.open else { return false }
            state = State(open: true, pendingBegin: begin)
            return true
        }
    }

    /// The `BEGIN` still to send, once.
    func takeBegin() -> String? {
        state.withLock { state in
            defer { state.pendingBegin = nil }
            return state.pendingBegin
        }
    }

    /// The `BEGIN` is on its way.
    func began() { state.withLock { $0.began = true } }

    /// Ends the transaction; whether its `BEGIN` was sent.
    func close() -> Bool {
        state.withLock { state in
            defer { state = State() }
            return state.began
        }
    }
}
