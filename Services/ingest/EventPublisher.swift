import AMQP
import Contracts
import ServiceKit
import Synchronization

/// Publishes envelopes over one or more broker connections, round-robin, and returns only after a confirm.
///
/// Every request publishes on its own task, so many confirms are in flight on each connection at once (the AMQP
/// client pipelines them); the connections add I/O threads when one is not enough. A connection that is not ready
/// is skipped; when none is, the publish fails at once so that the sender hears 503 fast instead of waiting.
final class EventPublisher: Sendable {
    private let connections: [AMQPConnection]
    private let exchange: String
    private let confirmTimeout: Duration
    private let metrics: IngestMetrics
    private let next = Atomic<Int>(0)

    init(connections: [AMQPConnection], exchange: String, confirmTimeout: Duration, metrics: IngestMetrics) {
        precondition(!connections.isEmpty, "ingest needs at least one broker connection")
        self.connections = connections
        self.exchange = exchange
        self.confirmTimeout = confirmTimeout
        self.metrics = metrics
    }

    /// Publishes `envelope` (persistent, mandatory, `message_id` = its idempotency key) and waits for the confirm.
    func publish(_ envelope: EventEnvelope) async throws(PublishFailure) {
        var message = envelope.message()
        message.exchange = exchange
        let connection = try pickConnection()
        let start = ContinuousClock.now
        metrics.confirmStarted()
        defer { metrics.confirmFinished() }
        do {
            try await connection.publish(message, timeout: confirmTimeout)
            metrics.publishLatency(ContinuousClock.now - start)
        } catch let error as AMQPError {
            throw PublishFailure(error)
        } catch {
            throw PublishFailure(reason: "publish_failed", detail: "\(error)")
        }
    }

    /// Publishes all envelopes concurrently; succeeds only when every one was confirmed.
    func publishAll(_ envelopes: [EventEnvelope]) async throws(PublishFailure) {
        if envelopes.count == 1 { return try await publish(envelopes[0]) }
        let failure: PublishFailure? = await withTaskGroup(of: PublishFailure?.self) { group in
            for envelope in envelopes {
                group.addTask {
                    do throws(PublishFailure) { try await self.publish(envelope) } catch { return error }
                    return nil
                }
            }
            var first: PublishFailure?
            for await result in group where first == nil { first = result }
            return first
        }
        if let failure { throw failure }
    }

    /// nil when at least one connection can publish, else why none can.
    var unavailableReason: String? {
        var reasons: [String] = []
        for connection in connections {
            guard let reason = BrokerService.readiness(of: connection) else { return nil }
            reasons.append(reason)
        }
        return reasons.first
    }

    private func pickConnection() throws(PublishFailure) -> AMQPConnection {
        let n = connections.count
        let start = next.add(1, ordering: .relaxed).oldValue
        var blocked: String?
        for i in 0..<n {
            let connection = connections[Int(UInt(bitPattern: start &+ i) % UInt(n))]
            switch connection.status {
            case .ready: return connection
            case .blocked(let reason): blocked = reason
            default: continue
            }
        }
        if let blocked {
            throw PublishFailure(reason: "broker_blocked", detail: "broker blocked publishing: \(blocked)")
        }
        throw PublishFailure(reason: "broker_unavailable", detail: unavailableReason ?? "no broker connection")
    }
}

/// Why an event could not be handed to the broker; the sender must retry (503).
struct PublishFailure: Error, Sendable, CustomStringConvertible {
    /// Stable, low-cardinality reason for metrics and logs (`broker_unavailable`, `broker_blocked`, …).
    let reason: String
    /// The broker-side explanation, for logs only (never contains secrets or bodies).
    let detail: String

    init(reason: String, detail: String) {
        self.reason = reason
        self.detail = detail
    }

    init(_ error: AMQPError) {
        let reason: String
        switch error.code {
        case .notConnected, .connectionLost, .connectionFailed, .closed: reason = "broker_unavailable"
        case .blocked: reason = "broker_blocked"
        case .confirmTimeout: reason = "confirm_timeout"
        case .nacked: reason = "broker_nacked"
        case .unroutable: reason = "unroutable"
        case .channelClosed: reason = "channel_closed"
        case .invalidArgument: reason = "publish_failed"
        }
        self.init(reason: reason, detail: error.description)
    }

    var description: String { "\(reason): \(detail)" }
}
