import Dispatch
import Foundation
import Synchronization

/// Runs jobs one at a time, in submission order, on a thread it owns.
///
/// libpq calls block (network round trips, `connect_timeout`), so they must never run on the Swift
/// cooperative pool. Every `LibPQSession` call happens inside a job submitted here.
final class ConnectionWorker: Sendable {
    typealias Job = @Sendable () -> Void

    private let queue = JobQueue()

    init(name: String) {
        let queue = self.queue
        let thread = Thread { queue.drain() }
        thread.name = name
        thread.start()
    }

    /// Submits a job; returns `false` when the worker has stopped and the job will never run.
    @discardableResult
    func submit(_ job: @escaping Job) -> Bool {
        queue.push(job)
    }

    /// Runs `body` on the worker thread and returns its result to the awaiting task.
    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let accepted = queue.push {
                continuation.resume(with: Result { try body() })
            }
            if !accepted {
                continuation.resume(throwing: PostgresError(code: .connectionClosed, message: "connection is closed"))
            }
        }
    }

    /// How long the job now running has been running; nil while the worker waits for work. Answers at once, also
    /// while that job blocks in libpq.
    var busyFor: Duration? { queue.runningSince.map { ContinuousClock.now - $0 } }

    /// Lets already-submitted jobs finish, then ends the thread. Later submissions are refused.
    func stop() {
        queue.close()
    }

    deinit {
        queue.close()
    }
}

/// The worker's mailbox: a mutex-protected FIFO plus a semaphore counting wake-ups.
private final class JobQueue: Sendable {
    private struct State {
        var jobs: [ConnectionWorker.Job] = []
        var head = 0
        var closed = false
        var runningSince: ContinuousClock.Instant?
    }

    private let state = Mutex(State())
    private let wakeups = DispatchSemaphore(value: 0)

    func push(_ job: @escaping ConnectionWorker.Job) -> Bool {
        let accepted = state.withLock { state in
            guard !state.closed else { return false }
            state.jobs.append(job)
            return true
        }
        if accepted { wakeups.signal() }
        return accepted
    }

    var runningSince: ContinuousClock.Instant? { state.withLock { $0.runningSince } }

    func close() {
        let wasOpen = state.withLock { state in
            defer { state.closed = true }
            return !state.closed
        }
        if wasOpen { wakeups.signal() }
    }

    /// The thread body: runs jobs until the queue is closed and empty.
    func drain() {
        while true {
            wakeups.wait()
            while let job = pop() {
                job()
                state.withLock { $0.runningSince = nil }
            }
            if state.withLock({ $0.closed && $0.head == $0.jobs.count }) { return }
        }
    }

    private func pop() -> ConnectionWorker.Job? {
        state.withLock { state in
            guard state.head < state.jobs.count else {
                state.jobs.removeAll(keepingCapacity: true)
                state.head = 0
                return nil
            }
            let job = state.jobs[state.head]
            state.head += 1
            state.runningSince = .now
            if state.head > 64, state.head * 2 > state.jobs.count {
                state.jobs.removeFirst(state.head)
                state.head = 0
            }
            return job
        }
    }
}
