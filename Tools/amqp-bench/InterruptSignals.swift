import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// SIGINT and SIGTERM as something to await, so that an interrupted run still deletes its queues.
///
/// The first signal wakes ``next()``; a second one exits at once with status 130.
final class InterruptSignals: Sendable {
    private let stream: AsyncStream<Int32>
    private let continuation: AsyncStream<Int32>.Continuation
    private let count = Atomic<Int>(0)
    // DispatchSource is not Sendable; these are only created in init and cancelled in stop(), both on the
    // caller's task, and the sources themselves are thread-safe.
    nonisolated(unsafe) private let sources: [any DispatchSourceSignal]

    init() {
        (stream, continuation) = AsyncStream<Int32>.makeStream()
        var sources: [any DispatchSourceSignal] = []
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            sources.append(DispatchSource.makeSignalSource(signal: number, queue: .global()))
        }
        self.sources = sources
        for source in sources {
            let number = Int32(source.handle)
            source.setEventHandler { [self] in
                if count.wrappingAdd(1, ordering: .relaxed).oldValue > 0 { _exit(130) }
                continuation.yield(number)
            }
            source.resume()
        }
    }

    /// Returns true at the first signal, false when stopped or when the awaiting task is cancelled.
    func next() async -> Bool {
        for await _ in stream { return true }
        return false
    }

    /// Stops listening; the default signal actions apply again.
    func stop() {
        for source in sources { source.cancel() }
        continuation.finish()
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}
