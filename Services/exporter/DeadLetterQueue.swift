import AMQP
import Contracts
import Foundation
import Synchronization

/// One shop's dead-letter queue `dead.exporter.<shop>`: the availability messages the exporter (or the broker, at
/// the delivery limit) gave up on, for an operator to inspect, send back to the shop, or drop.
///
/// Reading without losing anything: a quorum queue cannot be browsed, so ``list(limit:)`` and ``letters(messageId:)``
/// subscribe with manual acknowledgement and a prefetch as large as the snapshot, take every message without
/// acknowledging one, and then close the subscription's channel. Closing a channel is AMQP's atomic "release":
/// the broker puts every unacknowledged delivery back at once. (A `basic.nack(requeue: true)` while still
/// subscribed would make the broker deliver the same messages straight back into the open prefetch window.)
/// Each release adds one to a message's `x-delivery-count`; that only matters on a queue with `x-delivery-limit`,
/// and the dead-letter queues are declared without one (``StockwireTopology/deadLetters(for:)``).
///
/// Replay publishes to the default exchange with the shop's queue name as routing key, so the message reaches
/// `exporter.<shop>` only — never the other shops bound to `stockwire.availability` — and acknowledges the dead
/// letter only after the broker confirmed the copy (at least once: a crash in between leaves both).
struct DeadLetterQueue: Sendable {
    /// The shop domain.
    let shop: String
    /// The broker connection, started by the caller.
    let connection: AMQPConnection
    /// How long to wait for the next delivery when fewer messages arrive than the queue counted (another consumer
    /// holds some, or some were purged meanwhile).
    var idleTimeout: Duration = .seconds(2)

    /// The dead-letter queue's name, `dead.exporter.<shop>`.
    var name: String { StockwireTopology.deadLetterQueue(of: shopQueue) }
    /// The shop's work queue, `exporter.<shop>`, which replay sends to.
    var shopQueue: String { StockwireTopology.exporterQueue(shop: shop) }

    /// Creates a handle; nothing is sent until a method is called.
    init(shop: String, connection: AMQPConnection) {
        self.shop = shop
        self.connection = connection
    }

    // MARK: - Operations

    /// Messages ready in the queue and the consumers reading it (messages those hold are not counted).
    func info() async throws -> AMQPQueueInfo {
        try await inspect(name, missing: .queueNotFound) {
            "no dead-letter queue \(name) on \(connection.configuration.redactedURL): check the shop domain (the "
                + "exporter declares it when it starts with \(shop) in its shops file)"
        }
    }

    /// Up to `limit` messages in queue order, all left in the queue.
    func list(limit: Int = 10_000) async throws -> Listing {
        let info = try await info()
        let letters = try await take(upTo: min(Int(info.messages), limit), holdAll: true) { _ in false }
        try await settle(atLeast: Int(info.messages))
        return Listing(queue: name, ready: Int(info.messages), otherConsumers: Int(info.consumers), letters: letters)
    }

    /// Every message whose `message_id` is `messageId`, all left in the queue.
    func letters(messageId: String) async throws -> [Letter] {
        let info = try await info()
        let letters = try await take(upTo: Int(info.messages), holdAll: true) { _ in false }
        try await settle(atLeast: Int(info.messages))
        return letters.filter { $0.messageId == messageId }
    }

    /// Sends the selected messages back to the shop's queue, each acknowledged here only once the broker confirmed
    /// its copy. `.all` takes the messages present when it starts, so a message the exporter dead-letters again
    /// meanwhile is not replayed in a loop.
    ///
    /// Throws ``DeadLetterQueueError`` `.replayFailed` (naming how many went back before) when the broker refuses
    /// a copy; that message and the rest stay in the dead-letter queue.
    func replay(_ selection: Selection) async throws -> ReplayResult {
        let info = try await info()
        _ = try await inspect(shopQueue, missing: .shopQueueNotFound) {
            "no queue \(shopQueue) to replay into: start the exporter with \(shop) in its shops file first"
        }
        let replayed = Locked(0)
        let publish: @Sendable (Letter) async throws -> Bool = { letter in
            guard selection.matches(letter) else { return false }
            do {
                try await connection.publish(letter.replayMessage(to: shopQueue), timeout: .seconds(30))
            } catch {
                let done = replayed.withLock { $0 }
                throw DeadLetterQueueError(
                    .replayFailed,
                    "replayed \(done) message(s) to \(shopQueue), then the broker did not take "
                        + "\(letter.messageId ?? "a message without id"): \(error); it and the rest stay in \(name)")
            }
            replayed.withLock { $0 += 1 }
            return true
        }
        // Replaying everything acknowledges as it goes, so a small window suffices; a search by id holds every
        // non-matching message until the end, so its window covers the whole queue.
        let scanned = try await take(upTo: Int(info.messages), holdAll: selection != .all, handle: publish)
        let count = replayed.withLock { $0 }
        return ReplayResult(replayed: count, left: max(0, Int(info.messages) - count), scanned: scanned.count)
    }

    /// Deletes every ready message for good; returns how many.
    func purge() async throws -> Int {
        _ = try await info()
        return Int(try await connection.purge(name))
    }

    // MARK: - Taking a snapshot

    /// Subscribes and takes up to `expected` deliveries, calling `handle` on each; a delivery it handled (true) is
    /// acknowledged, the others are released when the subscription's channel closes at the end. Stops early when
    /// nothing arrives for ``idleTimeout``.
    private func take(
        upTo expected: Int, holdAll: Bool, handle: @escaping @Sendable (Letter) async throws -> Bool
    ) async throws -> [Letter] {
        guard expected > 0 else { return [] }
        let window = holdAll ? expected : min(expected, 256)
        let consumer = connection.consume(queue: name, prefetch: UInt16(clamping: window))
        defer { consumer.release() }  // closes the channel: every unacknowledged delivery goes back to the queue
        let lastProgress = Locked(ContinuousClock.now)
        let idleTimeout = idleTimeout
        return try await withThrowingTaskGroup(of: [Letter]?.self) { group in
            group.addTask {
                var letters: [Letter] = []
                for try await delivery in consumer {
                    let letter = Letter(delivery)
                    if try await handle(letter) { delivery.ack() }
                    letters.append(letter)
                    lastProgress.withLock { $0 = .now }
                    if letters.count >= expected { break }
                }
                return letters
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(100))
                    if lastProgress.withLock({ ContinuousClock.now - $0 }) > idleTimeout { break }
                }
                return nil
            }
            var letters: [Letter] = []
            // The watchdog finishing first cancels the reader, which then returns what it has.
            while let result = try await group.next() {
                if let result { letters = result }
                group.cancelAll()
            }
            return letters
        }
    }

    /// Waits until the released messages are counted as ready again (the broker returns them asynchronously), so
    /// that a count right after a listing equals the count before; gives up quietly after ``idleTimeout`` when
    /// someone else took messages meanwhile.
    private func settle(atLeast count: Int) async throws {
        let deadline = ContinuousClock.now + idleTimeout
        while try await connection.queueInfo(name).messages < count, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    private func inspect(
        _ queue: String, missing: DeadLetterQueueError.Code, _ message: () -> String
    ) async throws -> AMQPQueueInfo {
        do {
            return try await connection.queueInfo(queue)
        } catch let error as AMQPError where error.replyCode == 404 {
            throw DeadLetterQueueError(missing, message())
        }
    }
}

// MARK: - Values

extension DeadLetterQueue {
    /// Which messages ``replay(_:)`` sends back.
    enum Selection: Sendable, Equatable {
        /// Every message present at the start.
        case all
        /// Every message with this `message_id`.
        case messageId(String)

        func matches(_ letter: Letter) -> Bool {
            switch self {
            case .all: return true
            case .messageId(let id): return letter.messageId == id
            }
        }
    }

    /// What ``list(limit:)`` saw.
    struct Listing: Sendable {
        /// The queue's name.
        let queue: String
        /// Messages ready when it started.
        let ready: Int
        /// Other consumers of the queue (the messages they hold were not seen).
        let otherConsumers: Int
        /// The messages, in queue order.
        let letters: [Letter]

        /// How many messages each reason code has, most frequent first.
        var countsByReason: [(code: String, count: Int)] {
            Dictionary(grouping: letters, by: \.reason.code).map { (code: $0.key, count: $0.value.count) }
                .sorted { $0.count != $1.count ? $0.count > $1.count : $0.code < $1.code }
        }
    }

    /// What ``replay(_:)`` did.
    struct ReplayResult: Sendable, Equatable {
        /// Messages sent back to the shop's queue (and removed from the dead-letter queue).
        let replayed: Int
        /// Messages of the snapshot left in the dead-letter queue.
        let left: Int
        /// Messages looked at.
        let scanned: Int
    }

    /// Why a message was dead-lettered.
    struct Reason: Sendable, Equatable {
        /// Who gave up on it.
        enum Source: String, Sendable {
            /// The exporter (`x-stockwire-reason`): the shop refused it for good, or it was unreadable.
            case exporter
            /// The broker (`x-death`): rejected without requeue, or over the delivery limit.
            case broker
            /// Neither header is present (published here by hand?).
            case unknown
        }

        let source: Source
        /// A short stable code to group by: the Shopify error code, `unreadable`, or `broker:<reason>`.
        let code: String
        /// The full text.
        let text: String
    }

    /// One dead-lettered message, decoded for display and replay.
    struct Letter: Sendable {
        /// The message's `message_id` (`<sku>/<version>` from the calculator).
        let messageId: String?
        /// The message as it sits in the dead-letter queue.
        let body: [UInt8]
        /// Its properties, dead-letter headers included.
        let properties: AMQPProperties
        /// The decoded availability message, or nil when the body is not one (see ``decodeError``).
        let availability: AvailabilityMessage?
        /// Why the body could not be decoded.
        let decodeError: String?
        /// Why it is here.
        let reason: Reason
        /// When the broker dead-lettered it (`x-death` time) or, for the exporter's own dead letters, when the
        /// message was created (AMQP timestamp, else the calculator's `computed_at_ms`).
        let time: Date?
        /// Times the dead-letter queue has delivered it before (listing counts too).
        let deliveryCount: Int

        init(_ delivery: AMQPDelivery) {
            self.init(body: delivery.body, properties: delivery.properties)
        }

        init(body: [UInt8], properties: AMQPProperties) {
            self.body = body
            self.properties = properties
            messageId = properties.messageId
            do {
                availability = try AvailabilityMessage.decode(body)
                decodeError = nil
            } catch {
                availability = nil
                decodeError = "\(error)"
            }
            let death = Self.deaths(properties.headers).first
            if let text = properties.headers["x-stockwire-reason"]?.stringValue {
                let code = text.split(separator: ":", maxSplits: 1).first.map(String.init) ?? text
                reason = Reason(
                    source: .exporter, code: text.hasPrefix("unreadable") ? "unreadable" : code, text: text)
            } else if let death, let why = death["reason"]?.stringValue {
                let queue = death["queue"]?.stringValue ?? "?"
                let count = death["count"]?.intValue ?? 1
                reason = Reason(source: .broker, code: "broker:\(why)", text: "\(why) by \(queue) (\(count)×)")
            } else {
                reason = Reason(source: .unknown, code: "unknown", text: "no x-stockwire-reason or x-death header")
            }
            if let seconds = death?["time"]?.intValue ?? properties.timestamp.map({ Int64(clamping: $0) }) {
                time = Date(timeIntervalSince1970: TimeInterval(seconds))
            } else if let millis = availability?.computedAtMillis {
                time = Date(timeIntervalSince1970: TimeInterval(millis) / 1000)
            } else {
                time = nil
            }
            deliveryCount = Int(properties.headers["x-delivery-count"]?.intValue ?? 0)
        }

        /// The `x-death` entries, newest first, as the broker writes them.
        static func deaths(_ headers: [String: AMQPValue]) -> [[String: AMQPValue]] {
            guard case .array(let entries) = headers["x-death"] else { return [] }
            return entries.compactMap { if case .table(let t) = $0 { return t } else { return nil } }
        }

        /// The message to publish to `queue` through the default exchange: body and properties unchanged, minus
        /// the dead-letter bookkeeping (`x-death`, `x-first-death-*`, `x-last-death-*`, `x-delivery-count`,
        /// `x-stockwire-*`), so the shop queue counts its deliveries afresh.
        func replayMessage(to queue: String) -> AMQPMessage {
            var properties = properties
            properties.headers = properties.headers.filter { key, _ in !Self.isDeadLetterHeader(key) }
            return AMQPMessage(exchange: "", routingKey: queue, body: body, properties: properties, mandatory: true)
        }

        static func isDeadLetterHeader(_ key: String) -> Bool {
            key == "x-death" || key == "x-delivery-count" || key.hasPrefix("x-first-death-")
                || key.hasPrefix("x-last-death-") || key.hasPrefix("x-stockwire-")
        }
    }
}

/// A value shared by the tasks of one operation.
private final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<R: Sendable>(_ body: (inout Value) -> R) -> R { mutex.withLock { body(&$0) } }
}

// MARK: - Errors

/// A dead-letter operation that cannot be done; the message names the queue and the fix.
struct DeadLetterQueueError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Stable codes.
    struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        var description: String { name }

        /// The shop has no dead-letter queue (wrong domain, or the exporter never ran for it).
        static let queueNotFound = Code("queueNotFound")
        /// The shop's work queue to replay into does not exist.
        static let shopQueueNotFound = Code("shopQueueNotFound")
        /// The broker refused a replayed copy; what was not replayed stays dead-lettered.
        static let replayFailed = Code("replayFailed")
    }

    /// What went wrong, stable.
    let code: Code
    /// The human explanation.
    let message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    var description: String { message }
}
