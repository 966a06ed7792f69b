import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// SIGINT and SIGTERM handed to a handler instead of ending the process, so that a tool stops what it started
/// (services, queues, virtual hosts) before it exits.
///
/// Both signals are ignored from ``init(_:)`` on, also after ``cancel()``: what happens on a signal is the handler's
/// to decide, and a second signal is told apart by the count the handler gets.
public final class TerminationSignals: Sendable {
    private let received = Atomic<Int>(0)
    // DispatchSource is not Sendable; the sources are only created in init and cancelled in cancel(), and the sources
    // themselves are thread-safe.
    nonisolated(unsafe) private let sources: [any DispatchSourceSignal]

    /// Starts handing SIGINT and SIGTERM to `handler`, on a global queue, with the number of either received so far
    /// (1 for the first).
    public init(_ handler: @escaping @Sendable (_ signal: Int32, _ count: Int) -> Void) {
        var sources: [any DispatchSourceSignal] = []
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            sources.append(DispatchSource.makeSignalSource(signal: number, queue: .global()))
        }
        self.sources = sources
        for source in sources {
            let number = Int32(source.handle)
            source.setEventHandler { [self] in
                handler(number, received.wrappingAdd(1, ordering: .relaxed).newValue)
            }
            source.resume()
        }
    }

    /// Stops handing signals to the handler; they stay ignored.
    public func cancel() {
        for source in sources { source.cancel() }
    }
}
