import AMQP
import Foundation
import Logging
import Postgres

/// Publishes outbox rows with publisher confirms and marks them sent: right after each commit, at start, and
/// periodically for rows an instance left behind (it crashed between commit and publish, or the broker was down).
///
/// A row may be published twice (after a crash between confirm and mark); availability carries a per-SKU version,
/// so a consumer keeps the newest and ignores repeats.
struct OutboxRelay: Sendable {
    let amqp: AMQPConnection
    /// The relay's own view of the store (its own connection, so it never waits behind a batch).
    let store: StockStore
    let metrics: CalculatorMetrics
    let logger: Logger

    /// Publishes `messages` concurrently and returns the ids the broker confirmed.
    func publish(_ messages: [OutboxMessage]) async -> [Int64] {
        guard !messages.isEmpty else { return [] }
        let amqp = amqp
        return await withTaskGroup(of: Int64?.self) { group in
            for m in messages {
                group.addTask {
                    let message = AMQPMessage(
                        exchange: m.exchange, routingKey: m.routingKey, body: m.body,
                        properties: AMQPProperties(
                            contentType: "application/json", messageId: m.messageId,
                            timestamp: UInt64(nowMillis() / 1000), type: m.messageType,
                            headers: ["x-schema-version": 1]),
                        // No exporter bound yet is not an error: exporters reconcile from the truth when they start.
                        mandatory: false)
                    do {
                        try await amqp.publish(message, timeout: .seconds(10))
                        return m.id
                    } catch {
                        return nil
                    }
                }
            }
            var sent: [Int64] = []
            for await id in group { if let id { sent.append(id) } }
            return sent
        }
    }

    /// Publishes and marks sent; failures stay in the outbox for the next drain.
    func publishAndMark(_ messages: [OutboxMessage]) async {
        let sent = await publish(messages)
        metrics.published.increment(by: sent.count)
        if sent.count < messages.count {
            metrics.publishFailures.increment(by: messages.count - sent.count)
            logger.warning(
                "availability publish failed; left in the outbox for the relay",
                metadata: ["failed": "\(messages.count - sent.count)"])
        }
        do {
            try await store.markSent(sent)
        } catch {
            logger.warning("outbox rows published but not marked sent (they will be sent again)", metadata: ["error": "\(error)"])
        }
    }

    /// Publishes every unsent row at least `minimumAge` old; returns how many were published.
    @discardableResult
    func drain(minimumAge: Duration) async -> Int {
        var total = 0
        while !Task.isCancelled {
            let rows: [OutboxMessage]
            do {
                rows = try await store.unsent(limit: 1000, minimumAge: minimumAge)
            } catch {
                logger.warning("outbox relay cannot read the outbox", metadata: ["error": "\(error)"])
                if error.isConnectionLost { try? await store.db.reset() }
                return total
            }
            guard !rows.isEmpty else { break }
            let sent = await publish(rows)
            metrics.published.increment(by: sent.count)
            try? await store.markSent(sent)
            total += sent.count
            if sent.count < rows.count { break }
        }
        if total > 0 { logger.info("outbox relay published left-over messages", metadata: ["count": "\(total)"]) }
        return total
    }
}

/// Milliseconds since 1970.
func nowMillis() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

extension Error {
    /// Whether this is a lost PostgreSQL connection that a reset may fix.
    var isConnectionLost: Bool {
        guard let e = self as? PostgresError else { return false }
        return e.code == .connectionLost || e.code == .connectionFailed
    }
}
