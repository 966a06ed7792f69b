import AMQP
import Contracts
import Foundation
import Logging
import Postgres
import Synchronization

/// Outbox rows published but not yet marked sent. Marking them in a statement and transaction of their own cost
/// every batch one more round trip and commit (at 85 events/s each webhook is a batch of its own); the next batch's
/// transaction marks them instead (``StockStore/apply(_:computedAtMillis:marking:)``), and when no batch comes
/// within ``OutboxMarks/patience`` they are marked on their own (``OutboxRelay/flushMarks()``). Until marked, a row
/// may be published again by a relay, which consumers ignore (the version is not newer).
final class OutboxMarks: Sendable {
    private struct State {
        var ids: [Int64] = []
        var since: ContinuousClock.Instant?
    }
    private let state = Mutex(State())
    /// How long ids wait for a batch transaction to mark them.
    static let patience: Duration = .milliseconds(200)

    func add(_ new: [Int64]) {
        guard !new.isEmpty else { return }
        state.withLock { s in
            s.ids.append(contentsOf: new)
            if s.since == nil { s.since = .now }
        }
    }

    /// Takes every id waiting to be marked.
    func take() -> [Int64] {
        state.withLock { s in
            defer {
                s.ids.removeAll(keepingCapacity: true)
                s.since = nil
            }
            return s.ids
        }
    }

    /// Whether ids have waited longer than ``patience``.
    var overdue: Bool { state.withLock { s in s.since.map { ContinuousClock.now - $0 > Self.patience } ?? false } }
}

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
    /// Rows published whose mark waits for the next batch transaction (or ``flushMarks()``).
    let marks = OutboxMarks()

    /// The properties of an outbox row's message: its contract's, looked up by the row's `type`. A type this build
    /// does not know (a row a newer build wrote, during a rolling upgrade) keeps its type, without a schema header.
    static func properties(of m: OutboxMessage) -> AMQPProperties {
        let now = nowMillis()
        guard let contract = MessageContracts.contract(ofType: m.messageType) else {
            return AMQPProperties(
                contentType: MessageContracts.contentType, messageId: m.messageId, timestamp: UInt64(now / 1000),
                type: m.messageType)
        }
        return contract.properties(messageId: m.messageId, timestampMillis: now)
    }

    /// Publishes `messages` concurrently and returns the ids the broker confirmed.
    func publish(_ messages: [OutboxMessage]) async -> [Int64] {
        guard !messages.isEmpty else { return [] }
        let amqp = amqp
        return await withTaskGroup(of: Int64?.self) { group in
            for m in messages {
                group.addTask {
                    let message = AMQPMessage(
                        exchange: m.exchange, routingKey: m.routingKey, body: m.body,
                        properties: OutboxRelay.properties(of: m),
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

    /// Marks the published rows no batch transaction has marked yet: before a drain, so that it does not publish
    /// them again, and at shutdown.
    func flushMarks() async {
        let ids = marks.take()
        guard !ids.isEmpty else { return }
        do {
            try await store.markSent(ids)
        } catch {
            marks.add(ids)
            logger.warning("outbox rows published but not marked sent (they may be sent again)", metadata: ["error": "\(error)"])
        }
    }

    /// Publishes, and leaves the rows published to be marked sent with the next batch (``OutboxMarks``); failures stay
    /// in the outbox for the next drain.
    func publishAndMark(_ messages: [OutboxMessage]) async {
        let sent = await publish(messages)
        metrics.published.increment(by: sent.count)
        if sent.count < messages.count {
            metrics.publishFailures.increment(by: messages.count - sent.count)
            logger.warning(
                "availability publish failed; left in the outbox for the relay",
                metadata: ["failed": "\(messages.count - sent.count)"])
        }
        marks.add(sent)
    }

    /// Publishes every unsent row at least `minimumAge` old; returns how many were published.
    @discardableResult
    func drain(minimumAge: Duration) async -> Int {
        await flushMarks()
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
