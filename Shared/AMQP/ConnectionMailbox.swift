import CRabbitMQ
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// What callers ask of a connection's I/O thread.
enum ConnectionCommand: Sendable {
    case publish(AMQPMessage, deadline: ContinuousClock.Instant?, CheckedContinuation<Void, any Error>)
    case ack(channel: UInt16, generation: UInt64, tag: UInt64, multiple: Bool)
    case nack(channel: UInt16, generation: UInt64, tag: UInt64, multiple: Bool, requeue: Bool)
    case declare([AMQPTopology], remember: Bool, CheckedContinuation<Void, any Error>)
    case inspect(queue: String, CheckedContinuation<AMQPQueueInfo, any Error>)
    case purge(queue: String, CheckedContinuation<UInt32, any Error>)
    case deleteQueue(String, CheckedContinuation<Void, any Error>)
    case deleteExchange(String, CheckedContinuation<Void, any Error>)
    case consume(ConsumerSpec)
    case cancel(consumer: Int, release: Bool)
    case shutdown(CheckedContinuation<Void, Never>)
}

/// A subscription as the I/O thread keeps it, so that it can be re-established after a reconnect.
struct ConsumerSpec: Sendable {
    let id: Int
    let queue: String
    let prefetch: UInt16
    let arguments: [String: AMQPValue]
    let continuation: AsyncThrowingStream<AMQPDelivery, any Error>.Continuation
}

/// The one place where callers and the I/O thread meet: a command queue, the public status, and a wake-up pipe.
///
/// Everything here is guarded by a `Mutex` or is immutable, which is what makes it `Sendable`.
final class ConnectionMailbox: Sendable {
    struct State {
        var commands: [ConnectionCommand] = []
        var sleeping = false
        var status: AMQPConnectionStatus = .connecting
        var generation: UInt64 = 0
        /// Established connections lost since the start (not counting the owner's close).
        var connectionsLost = 0
        var closed = false
        var nextConsumerId = 1
        /// Per consumer, the subscription its deliveries come from now (absent while it is not subscribed): a
        /// subscription ends with its channel or connection, and the broker hands what it held to another consumer.
        var subscriptions: [Int: UInt64] = [:]
    }

    let state = Mutex(State())
    private let wakeRead: Int32
    private let wakeWrite: Int32

    init() {
        var fds: [Int32] = [-1, -1]
        let rc = stockwire_wake_pipe(&fds)
        precondition(rc == 0, "pipe failed: \(String(cString: strerror(errno)))")
        wakeRead = fds[0]
        wakeWrite = fds[1]
    }

    deinit {
        close(wakeRead)
        close(wakeWrite)
    }

    /// The read end of the wake-up pipe, for the I/O thread's poll.
    var wakeFD: Int32 { wakeRead }

    /// Queues a command; acks and nacks for a connection that is gone are refused (returns false).
    @discardableResult
    func submit(_ command: ConnectionCommand) -> Bool {
        let (accepted, wake): (Bool, Bool) = state.withLock { s in
            if case .ack(_, let generation, _, _) = command, generation != s.generation { return (false, false) }
            if case .nack(_, let generation, _, _, _) = command, generation != s.generation { return (false, false) }
            if s.closed {
                if case .shutdown = command {} else { return (false, false) }
            }
            s.commands.append(command)
            let wake = s.sleeping
            s.sleeping = false
            return (true, wake)
        }
        if wake { signal() }
        if !accepted { reject(command) }
        return accepted
    }

    /// Takes every queued command.
    func take() -> [ConnectionCommand] {
        state.withLock { s in
            let c = s.commands
            s.commands.removeAll(keepingCapacity: true)
            return c
        }
    }

    /// Marks the I/O thread as about to sleep; false when commands arrived meanwhile (do not sleep).
    func prepareSleep() -> Bool {
        state.withLock { s in
            if !s.commands.isEmpty { return false }
            s.sleeping = true
            return true
        }
    }

    /// Called by the I/O thread after its poll returned.
    func awake() {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(wakeRead, &buffer, buffer.count) > 0 {}
        state.withLock { $0.sleeping = false }
    }

    private func signal() {
        var one: UInt8 = 1
        _ = write(wakeWrite, &one, 1)
    }

    /// Answers a command that cannot be carried out because the connection is closed for good.
    func reject(_ command: ConnectionCommand) {
        let closed = AMQPError(.closed, "the AMQP connection was closed by its owner")
        switch command {
        case .publish(_, _, let c): c.resume(throwing: closed)
        case .declare(_, _, let c): c.resume(throwing: closed)
        case .inspect(_, let c): c.resume(throwing: closed)
        case .purge(_, let c): c.resume(throwing: closed)
        case .deleteQueue(_, let c), .deleteExchange(_, let c): c.resume(throwing: closed)
        case .consume(let spec): spec.continuation.finish()
        case .shutdown(let c): c.resume()
        case .ack, .nack, .cancel: break
        }
    }
}
