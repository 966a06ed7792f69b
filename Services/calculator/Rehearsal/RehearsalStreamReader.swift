import AMQP
import Contracts
import Foundation
import Synchronization

/// Reads a time range of the event log (`stockwire.events.log`) into a ``RehearsalInput``: a stream consumer only
/// reads (another consumer's offset is its own), so nothing changes in the broker. Optionally keeps every event in
/// a file (``SavedEvent``), so the day can be rehearsed again offline with `--events`.
struct RehearsalStreamReader {
    let amqp: AMQPConnection
    var stream = StockwireTopology.eventsLog
    /// Stop once nothing arrived for this long (the stream never ends: this is "caught up").
    var idleTimeout: Duration = .seconds(3)

    /// Reads events from `start` until one received after `until` (ms) or until caught up.
    func read(from start: StreamReplay.Start, until: Int64?, into input: inout RehearsalInput, saveTo save: FileHandle?) async throws {
        let consumer = amqp.consume(queue: stream, prefetch: 1000, arguments: ["x-stream-offset": start.argument])
        let last = Mutex(ContinuousClock.now)
        let idle = idleTimeout
        let watchdog = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(100))
                if last.withLock({ ContinuousClock.now - $0 }) > idle {
                    consumer.cancel()
                    return
                }
            }
        }
        defer {
            watchdog.cancel()
            consumer.cancel()
        }
        var pending: [UInt8] = []
        for try await delivery in consumer {
            last.withLock { $0 = .now }
            defer { _ = delivery.ack() }
            let envelope: EventEnvelope
            do {
                envelope = try EventEnvelope(body: delivery.body, properties: delivery.properties)
            } catch {
                input.read += 1
                input.skip("event-log message without a readable envelope")
                continue
            }
            if let until, envelope.receivedAtMillis > until { break }
            // The broker starts a time offset at its chunk: a few earlier events may come first.
            if case .time(let date) = start, envelope.receivedAtMillis < Int64(date.timeIntervalSince1970 * 1000) { continue }
            input.read += 1
            input.add(envelope)
            if let save {
                pending.append(contentsOf: try SavedEvent.line(envelope))
                if pending.count > 1 << 20 {
                    try save.write(contentsOf: pending)
                    pending.removeAll(keepingCapacity: true)
                }
            }
        }
        if let save, !pending.isEmpty { try save.write(contentsOf: pending) }
    }
}
