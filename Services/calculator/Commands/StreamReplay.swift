import AMQP
import ArgumentParser
import Contracts
import Foundation
import Logging
import Synchronization

/// Re-applies events from the event log stream (`stockwire.events.log`) to the stock truth, through the same
/// batch transaction as `calculator run` (``BatchProcessor/applyRecovering(_:)``): every event is deduplicated by
/// its message id, so replaying events that were already applied changes nothing and is counted as a duplicate.
/// What it publishes is ``Publishing``: by default nothing until it has caught up, then each SKU it changed once,
/// at its value then. Published as it goes, a replay into an empty database sent the shops values of the past at
/// versions above the ones they had (2–14 of 100–260 messages in one run), which running exporters wrote.
///
/// A stream never ends: the replay stops once nothing has arrived for ``idleTimeout`` (it caught up).
struct StreamReplay: Sendable {
    /// Where in the stream to start (`x-stream-offset`).
    enum Start: Sendable, Equatable, CustomStringConvertible {
        /// The oldest event retention still holds.
        case first
        /// A stream offset (as `x-stream-offset` headers of earlier deliveries show).
        case offset(Int64)
        /// The first chunk written at or after this time (the broker's granularity is a chunk, so a few earlier
        /// events may come too: dedupe makes them harmless).
        case time(Date)

        /// Reads `first`, a whole number (an offset) or an ISO 8601 time (`2025-11-28T09:00:00Z`).
        init?(_ text: String) {
            if text == "first" {
                self = .first
            } else if let offset = Int64(text), offset >= 0 {
                self = .offset(offset)
            } else if let date = try? Date.ISO8601FormatStyle().parse(text) {
                self = .time(date)
            } else if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) {
                self = .time(date)
            } else {
                return nil
            }
        }

        /// The `x-stream-offset` consumer argument.
        var argument: AMQPValue {
            switch self {
            case .first: return "first"
            case .offset(let o): return .int64(o)
            case .time(let d): return .timestamp(UInt64(max(0, d.timeIntervalSince1970)))
            }
        }

        var description: String {
            switch self {
            case .first: return "first"
            case .offset(let o): return "offset \(o)"
            case .time(let d): return Date.ISO8601FormatStyle().format(d)
            }
        }
    }

    /// What a replay did.
    struct Report: Sendable, Equatable {
        var read = 0
        var applied = 0
        var duplicates = 0
        var stale = 0
        var ignored = 0
        var rejected = 0
        var unreadable = 0
        /// The offset of the last event read, to continue from (`--from <it + 1>`).
        var lastOffset: Int64?
        /// SKUs whose availability the replay changed and held back (``Publishing/end`` or ``Publishing/none``).
        var changedSkus: Set<String> = []
        /// Of those, how many availability messages went out at the end.
        var publishedAtEnd = 0

        var summary: String {
            "read \(read) event(s): \(applied) applied, \(duplicates) duplicate(s), \(stale) stale, \(ignored) ignored, "
                + "\(rejected) rejected, \(unreadable) unreadable"
                + (lastOffset.map { "; last offset \($0) (continue with --from \($0 + 1))" } ?? "")
                + (changedSkus.isEmpty ? "" : "; \(changedSkus.count) SKU(s) changed, \(publishedAtEnd) published at the end")
        }
    }

    /// What a replay publishes of the availability it changes.
    enum Publishing: String, Sendable, CaseIterable, ExpressibleByArgument {
        /// Nothing while it runs; once it has caught up, each changed SKU once, at its value then.
        case end
        /// After every batch, as `calculator run` does: values of the past when replaying into an empty database.
        case asItGoes = "as-it-goes"
        /// Nothing (a rebuild: `calculator publish-all` follows, on the operator's word).
        case none
    }

    let stream: String
    let processor: BatchProcessor
    var publishing = Publishing.end
    /// Where ``Publishing/end`` publishes.
    var availabilityExchange = StockwireTopology.availabilityExchange
    var batchSize = 500
    var idleTimeout: Duration = .seconds(3)
    /// Stop after the event with this offset (inclusive), or when caught up.
    var untilOffset: Int64?

    func run(from start: Start, logger: Logger) async throws -> Report {
        let amqp = processor.amqp
        let consumer = amqp.consume(
            queue: stream, prefetch: UInt16(clamping: batchSize * 2), arguments: ["x-stream-offset": start.argument])
        let buffer = DeliveryBuffer()
        let progress = Progress()
        let idleTimeout = idleTimeout
        let reader = Task {
            do {
                for try await delivery in consumer {
                    progress.arrived()
                    buffer.push(delivery)
                }
                buffer.finish()
            } catch {
                buffer.finish(error: error)
            }
        }
        let watchdog = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(100))
                if progress.idle(longerThan: idleTimeout) {
                    consumer.cancel()
                    buffer.finish()
                    return
                }
            }
        }
        defer {
            watchdog.cancel()
            reader.cancel()
            consumer.cancel()
        }
        var report = Report()
        while var batch = await buffer.take(max: batchSize, linger: .milliseconds(20)) {
            if let until = untilOffset {
                batch = batch.filter { ($0.properties.headers["x-stream-offset"]?.intValue ?? .min) <= until }
            }
            guard !batch.isEmpty else { break }
            progress.applying(true)
            try await apply(batch, into: &report)
            progress.applying(false)
            batch.last?.ack(multiple: true)
            if let until = untilOffset, let last = report.lastOffset, last >= until { break }
        }
        await processor.relay.flushMarks()  // no later batch marks what the last one published
        if let failure = buffer.failure { throw failure }
        if publishing == .end, !report.changedSkus.isEmpty {
            let republisher = AvailabilityRepublisher(amqp: amqp, store: processor.store, logger: logger)
            report.publishedAtEnd = try await republisher.publish(
                skus: report.changedSkus.sorted(), to: .exchange(availabilityExchange))
        }
        logger.info("replay finished", metadata: ["stream": "\(stream)", "from": "\(start)", "report": "\(report.summary)"])
        return report
    }

    private func apply(_ batch: [AMQPDelivery], into report: inout Report) async throws {
        var events: [PreparedEvent] = []
        var seen = Set<String>()
        for (index, delivery) in batch.enumerated() {
            report.read += 1
            if let offset = delivery.properties.headers["x-stream-offset"]?.intValue { report.lastOffset = offset }
            switch EventDecoder.decode(body: delivery.body, properties: delivery.properties) {
            case .poison: report.unreadable += 1
            case .event(let event, let cause, _, _):
                if seen.insert(cause.messageId).inserted {
                    events.append(PreparedEvent(index: index, event: event, cause: cause))
                } else {
                    report.duplicates += 1
                }
            }
        }
        guard let result = await processor.applyRecovering(events) else {
            throw CancellationError()
        }
        report.duplicates += result.duplicates.count
        for outcome in result.outcomes.values {
            switch outcome {
            case .applied: report.applied += 1
            case .stale: report.stale += 1
            case .ignored: report.ignored += 1
            case .rejected: report.rejected += 1
            }
        }
        guard publishing != .asItGoes else {
            await processor.relay.publishAndMark(result.outbox)
            return
        }
        // Availability of the past is held back: its rows are marked sent unpublished, so that no relay (this one,
        // or a running calculator's) sends them. Catalog messages still go: an exporter keeps the newest per product.
        let availability = result.outbox.filter { $0.messageType == AvailabilityMessage.messageType }
        report.changedSkus.formUnion(availability.map(\.routingKey))
        try await processor.store.markSent(availability.map(\.id))
        await processor.relay.publishAndMark(result.outbox.filter { $0.messageType != AvailabilityMessage.messageType })
    }
}

/// When the replay last made progress: an event arrived, or a batch finished applying. A batch being applied
/// never counts as idle (the broker sends nothing while the prefetch window is full).
private final class Progress: Sendable {
    private let state = Mutex((last: ContinuousClock.now, applying: false))

    func arrived() { state.withLock { $0.last = .now } }

    func applying(_ busy: Bool) {
        state.withLock {
            $0.applying = busy
            $0.last = .now
        }
    }

    func idle(longerThan timeout: Duration) -> Bool {
        state.withLock { !$0.applying && ContinuousClock.now - $0.last > timeout }
    }
}
