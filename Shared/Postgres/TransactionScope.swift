import Synchronization

/// Marks whether a transaction's body is still running.
final class TransactionScope: Sendable {
    private let active = Atomic(true)

    var isActive: Bool { active.load(ordering: .acquiring) }

    func end() { active.store(false, ordering: .releasing) }
}
