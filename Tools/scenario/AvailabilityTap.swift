import AMQP
import Foundation
import Logging
import ShopifySimulator
import Synchronization

/// A queue of the run's own bound to every availability message (`stockwire.availability`, `#`), declared before the
/// load: the checker reads back what the calculator published, in the order the broker routed it — the order every
/// shop's queue received it in.
struct AvailabilityTap: Sendable {
    static let queue = "faults.availability-tap"

    /// One availability message as published.
    struct Message: Sendable {
        var messageId: String?
        var sku: String
        var version: Int64
        /// The body's fields that must be equal in two publications of one version.
        var content: String
    }

    let amqpURL: String

    /// Declares the tap (before the load).
    func declare() async throws {
        let connection = try scenarioConnection(amqpURL, purpose: "tap")
        defer { Task { await connection.close() } }
        try await connection.waitUntilConnected(timeout: .seconds(10))
        try await connection.declare([
            .quorumQueue(Self.queue),
            .binding(queue: Self.queue, exchange: "stockwire.availability", routingKey: "#"),
        ])
    }

    /// Everything the tap holds, in order (once the run is quiet).
    func read() async throws -> [Message] {
        let connection = try scenarioConnection(amqpURL, purpose: "tap")
        defer { Task { await connection.close() } }
        try await connection.waitUntilConnected(timeout: .seconds(10))
        let expected = Int(try await connection.queueInfo(Self.queue).messages)
        let consumer = connection.consume(queue: Self.queue, prefetch: 1_000)
        var out: [Message] = []
        guard expected > 0 else { return out }
        let progress = Progress()
        let reader = Task { () -> [Message] in
            var messages: [Message] = []
            for try await delivery in consumer {
                progress.count.withLock { $0 += 1 }
                if let object = try? JSONSerialization.jsonObject(with: Data(delivery.body)) as? [String: Any],
                    let sku = object["sku"] as? String, let version = (object["version"] as? NSNumber)?.int64Value
                {
                    var fields = object
                    fields["computed_at_ms"] = nil
                    let content = (try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]))
                        .map { String(decoding: $0, as: UTF8.self) } ?? ""
                    messages.append(Message(messageId: delivery.properties.messageId, sku: sku, version: version, content: content))
                }
                delivery.ack()
                if messages.count >= expected { break }
            }
            return messages
        }
        // Gives up only when nothing came for 15 s: a one-hour soak's tap holds tens of thousands of versions.
        let timeout = Task {
            try? await waitUntilQuiet(every: .seconds(15), quietFor: { _ in .seconds(15) }) { progress.count.withLock { $0 } }
            consumer.cancel()
        }
        out = (try? await reader.value) ?? []
        timeout.cancel()
        consumer.cancel()
        return out
    }

}

/// Messages read so far, shared between a reader and its watchdog.
private final class Progress: Sendable {
    let count = Mutex(0)
}
