import CRabbitMQ
import Foundation
import Logging

/// A connection to RabbitMQ that keeps itself connected.
///
/// All rabbitmq-c calls run on one thread the connection owns (rabbitmq-c allows one thread per connection and
/// services heartbeats only inside its calls); the async API never blocks the Swift concurrency pool. After a
/// broker restart or a network loss it reconnects with backoff, declares its topology again and re-subscribes
/// its consumers; publishes in flight at that moment fail with ``AMQPError/Code/connectionLost`` so that the
/// caller decides whether to retry.
public final class AMQPConnection: Sendable {
    /// The settings it was created with.
    public let configuration: AMQPConfiguration
    let mailbox = ConnectionMailbox()
    private let logger: Logger
    private let topology: [AMQPTopology]

    /// Creates a connection that will declare `topology` on every connect; call ``start()`` to connect.
    public init(configuration: AMQPConfiguration, topology: [AMQPTopology] = [], logger: Logger) {
        self.configuration = configuration
        self.topology = topology
        var logger = logger
        logger[metadataKey: "amqp"] = "\(configuration.connectionName)"
        self.logger = logger
    }

    /// Starts the I/O thread, which connects and keeps reconnecting until ``close()``.
    public func start() {
        let configuration = configuration
        let topology = topology
        let logger = logger
        let mailbox = mailbox
        let thread = Thread {
            // Linux takes the name from inside the thread, at most 15 bytes.
            stockwire_set_thread_name(String("amqp-\(configuration.connectionName)".prefix(15)))
            ConnectionWorker(configuration: configuration, topology: topology, mailbox: mailbox, logger: logger).run()
        }
        thread.start()
    }

    /// The current status.
    public var status: AMQPConnectionStatus { mailbox.state.withLock { $0.status } }

    /// How many established connections were lost since the start (a reconnect follows each); the owner's own
    /// `close()` is not counted. A lost connection can be back to `.ready` within the first retry (0.1 s), quicker
    /// than anyone polling `status` would notice; this count does not miss it.
    public var connectionsLost: Int { mailbox.state.withLock { $0.connectionsLost } }

    /// True when connected and not blocked.
    public var isReady: Bool { status == .ready }

    /// Waits until the connection is ready (or blocked, which still counts as connected), or throws after `timeout`.
    public func waitUntilConnected(timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            switch status {
            case .ready, .blocked: return
            case .closed: throw AMQPError(.closed, "the AMQP connection was closed by its owner")
            case .connecting, .disconnected:
                if ContinuousClock.now >= deadline {
                    throw AMQPError(
                        .notConnected,
                        "no connection to \(configuration.redactedURL) within \(timeout): \(statusReason)")
                }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    private var statusReason: String {
        if case .disconnected(let reason) = status { return reason }
        return "still connecting"
    }

    /// Publishes a persistent message and returns once the broker confirmed it.
    ///
    /// Throws ``AMQPError`` with `.notConnected` or `.blocked` at once when the broker cannot take it now,
    /// `.nacked`, `.unroutable` (mandatory and no queue took it), `.connectionLost` (outcome unknown) or
    /// `.confirmTimeout` when `timeout` passes first.
    public func publish(_ message: AMQPMessage, timeout: Duration? = nil) async throws {
        switch status {
        case .ready: break
        case .blocked(let reason):
            throw AMQPError(.blocked, "broker \(configuration.redactedURL) blocked publishing: \(reason)")
        case .closed: throw AMQPError(.closed, "the AMQP connection was closed by its owner")
        case .connecting, .disconnected:
            throw AMQPError(.notConnected, "not connected to \(configuration.redactedURL): \(statusReason)")
        }
        let deadline = timeout.map { ContinuousClock.now + $0 }
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            mailbox.submit(.publish(message, deadline: deadline, c))
        }
    }

    /// Declares topology now and remembers it, so it is declared again after every reconnect.
    public func declare(_ items: [AMQPTopology]) async throws {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            mailbox.submit(.declare(items, remember: true, c))
        }
    }

    /// Message and consumer counts of a queue (passive declare); throws `.channelClosed` with 404 if it is missing.
    public func queueInfo(_ queue: String) async throws -> AMQPQueueInfo {
        try await withCheckedThrowingContinuation { c in mailbox.submit(.inspect(queue: queue, c)) }
    }

    /// Removes every ready message of a queue; returns how many.
    @discardableResult
    public func purge(_ queue: String) async throws -> UInt32 {
        try await withCheckedThrowingContinuation { c in mailbox.submit(.purge(queue: queue, c)) }
    }

    /// Deletes a queue (and forgets it in the remembered topology).
    public func deleteQueue(_ queue: String) async throws {
        try await withCheckedThrowingContinuation { c in mailbox.submit(.deleteQueue(queue, c)) }
    }

    /// Deletes an exchange (and forgets it in the remembered topology).
    public func deleteExchange(_ exchange: String) async throws {
        try await withCheckedThrowingContinuation { c in mailbox.submit(.deleteExchange(exchange, c)) }
    }

    /// Subscribes to a queue with manual acknowledgement and at most `prefetch` unacknowledged deliveries.
    ///
    /// `arguments` go to basic.consume (e.g. `x-stream-offset` for a stream).
    public func consume(queue: String, prefetch: UInt16, arguments: [String: AMQPValue] = [:]) -> AMQPConsumer {
        let id = mailbox.state.withLock { s in
            defer { s.nextConsumerId += 1 }
            return s.nextConsumerId
        }
        let (stream, continuation) = AsyncThrowingStream<AMQPDelivery, any Error>.makeStream()
        let mailbox = mailbox
        continuation.onTermination = { reason in
            if case .cancelled = reason { mailbox.submit(.cancel(consumer: id, release: false)) }
        }
        mailbox.submit(
            .consume(
                ConsumerSpec(
                    id: id, queue: queue, prefetch: prefetch, arguments: arguments, continuation: continuation)))
        return AMQPConsumer(id: id, stream: stream, mailbox: mailbox, queue: queue)
    }

    /// Closes the connection for good: queued acks are sent, publishes awaiting a confirm get up to two seconds,
    /// consumers' sequences end.
    public func close() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            mailbox.submit(.shutdown(c))
        }
    }
}
