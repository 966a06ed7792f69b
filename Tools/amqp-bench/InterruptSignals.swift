import Foundation
import Toolbox

#if canImport(Glibc)
    import Glibc
#endif

/// SIGINT and SIGTERM as something to await, so that an interrupted run still deletes its queues.
///
/// The first signal wakes ``next()``; a second one exits at once with status 130.
final class InterruptSignals: Sendable {
    private let stream: AsyncStream<Int32>
    private let continuation: AsyncStream<Int32>.Continuation
    private let signals: TerminationSignals

    init() {
        let (stream, continuation) = AsyncStream<Int32>.makeStream()
        self.stream = stream
        self.continuation = continuation
        signals = TerminationSignals { number, count in
            if count > 1 { _exit(130) }
            continuation.yield(number)
        }
    }

    /// Returns true at the first signal, false when stopped or when the awaiting task is cancelled.
    func next() async -> Bool {
        for await _ in stream { return true }
        return false
    }

    /// Stops listening; the default signal actions apply again.
    func stop() {
        signals.cancel()
        continuation.finish()
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}
