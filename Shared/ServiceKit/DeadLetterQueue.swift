import AMQP
import Foundation
import Synchronization

/// The dead-letter queue `dead.<queue>` of one consumer queue (a shop's `exporter.<shop>`, the calculator's
/// `calculator.events`): the messages its consumer (or the broker, at the delivery limit) gave up on, for an
/// operator to inspect, send back, or drop. The services' `dead-letters` commands are thin shells around it.
///
/// Reading without losing anything: a quorum queue cannot be browsed, so ``list(limit:)`` and ``letters(messageId:)``
/// subscribe with manual acknowledgement and a prefetch as large as the snapshot, take every message without
/// acknowledging one, and then close the subscription's channel. Closing a channel is AMQP's atomic "release":
/// the broker puts every unacknowledged delivery back at once. (A `basic.nack(requeue: true)` while still
/// subscribed would make the broker deliver the same messages straight back into the open prefetch window.)
/// Each release adds one to a message's `x-delivery-count`; that only matters on a queue with `x-delivery-limit`,
/// and the dead-letter queues are declared without one.
///
/// Replay publishes each letter as its service's ``ReplayRoute`` says, and acknowledges the dead letter only after
/// the broker confirmed the copy (at least once: a crash in between leaves both).
public struct DeadLetterQueue: Sendable {
    /// Where replayed letters go.
    public struct ReplayRoute: Sendable {
        /// The queue that must exist before anything is replayed (checked first, so that nothing is lost to an
        /// unroutable publish); it also names the destination in messages.
        public var destination: String
        /// What to say when ``destination`` does not exist.
        public var destinationMissingHint: String
        /// The message to publish for a letter (its dead-letter headers already stripped).
        public var message: @Sendable (Letter, AMQPProperties) -> AMQPMessage

        /// Creates a route.
        public init(
            destination: String, destinationMissingHint: String,
            message: @escaping @Sendable (Letter, AMQPProperties) -> AMQPMessage
        ) {
            self.destination = destination
            self.destinationMissingHint = destinationMissingHint
            self.message = message
        }

        /// Straight to `queue` through the default exchange: only that queue receives the copy.
        public static func queue(_ queue: String, missingHint: String) -> ReplayRoute {
            ReplayRoute(destination: queue, destinationMissingHint: missingHint) { letter, properties in
                AMQPMessage(exchange: "", routingKey: queue, body: letter.body, properties: properties, mandatory: true)
            }
        }
    }

    /// The consumer queue whose dead letters these are.
    public let queue: String
    /// The broker connection, started by the caller.
    public let connection: AMQPConnection
    /// Where replay sends letters.
    public let route: ReplayRoute
    /// What to say when the dead-letter queue does not exist.
    public let missingHint: String
    /// How long to wait for the next delivery when fewer messages arrive than the queue counted (another consumer
    /// holds some, or some were purged meanwhile).
    public var idleTimeout: Duration = .seconds(2)

    /// The dead-letter queue's name, `dead.<queue>`.
    public var name: String { "dead.\(queue)" }
    /// The queue replay sends to (checked to exist first).
    public var replayQueue: String { route.destination }

    /// Creates a handle; nothing is sent until a method is called.
    public init(queue: String, connection: AMQPConnection, route: ReplayRoute, missingHint: String) {
        self.queue = queue
        self.connection = connection
        self.route = route
        self.missingHint = missingHint
    }

    // MARK: - Operations

    /// Messages ready in the queue and the consumers reading it (messages those hold are not counted).
    public func info() async throws -> AMQPQueueInfo {
        try await inspect(name, missing: .queueNotFound) {
            "no dead-letter queue \(name) on \(connection.configuration.redactedURL): \(missingHint)"
        }
    }

    /// Up to `limit` messages in queue order, all left in the queue.
    public func list(limit: Int = 10_000) async throws -> Listing {
        let info = try await info()
        let letters = try await take(upTo: min(Int(info.messages), limit), holdAll: true) { _ in false }
        try await settle(atLeast: Int(info.messages))
        return Listing(queue: name, ready: Int(info.messages), otherConsumers: Int(info.consumers), letters: letters)
    }

    /// Every message whose `message_id` is `messageId`, all left in the queue.
    public func letters(messageId: String) async throws -> [Letter] {
        let info = try await info()
        let letters = try await take(upTo: Int(info.messages), holdAll: true) { _ in false }
        try await settle(atLeast: Int(info.messages))
        return letters.filter { $0.messageId == messageId }
    }

    /// Sends the selected messages back (see ``ReplayRoute``), each acknowledged here only once the broker confirmed
    /// its copy. `.all` takes the messages present when it starts, so a message the exporter dead-letters again
    /// meanwhile is not replayed in a loop.
    ///
    /// Throws ``DeadLetterQueueError`` `.replayFailed` (naming how many went back before) when the broker refuses
    /// a copy; that message and the rest stay in the dead-letter queue.
    public func replay(_ selection: Selection) async throws -> ReplayResult {
        let info = try await info()
        let route = route
        _ = try await inspect(route.destination, missing: .destinationNotFound) {
            "no queue \(route.destination) to replay into: \(route.destinationMissingHint)"
        }
        let replayed = Locked(0)
        let publish: @Sendable (Letter) async throws -> Bool = { letter in
            guard selection.matches(letter) else { return false }
            do {
                try await connection.publish(route.message(letter, letter.replayProperties), timeout: .seconds(30))
            } catch {
                let done = replayed.withLock { $0 }
                throw DeadLetterQueueError(
                    .replayFailed,
                    "replayed \(done) message(s) to \(route.destination), then the broker did not take "
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
    public func purge() async throws -> Int {
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
    public enum Selection: Sendable, Equatable {
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
    public struct Listing: Sendable {
        /// The queue's name.
        public let queue: String
        /// Messages ready when it started.
        public let ready: Int
        /// Other consumers of the queue (the messages they hold were not seen).
        public let otherConsumers: Int
        /// The messages, in queue order.
        public let letters: [Letter]

        /// How many messages each reason code has, most frequent first.
        public var countsByReason: [(code: String, count: Int)] {
            Dictionary(grouping: letters, by: \.reason.code).map { (code: $0.key, count: $0.value.count) }
                .sorted { $0.count != $1.count ? $0.count > $1.count : $0.code < $1.code }
        }
    }

    /// What ``replay(_:)`` did.
    public struct ReplayResult: Sendable, Equatable {
        /// Messages sent back (and removed from the dead-letter queue).
        public let replayed: Int
        /// Messages of the snapshot left in the dead-letter queue.
        public let left: Int
        /// Messages looked at.
        public let scanned: Int
    }

    /// Why a message was dead-lettered.
    public struct Reason: Sendable, Equatable {
        /// Who gave up on it.
        public enum Source: String, Sendable {
            /// The consuming service (`x-stockwire-reason`): e.g. a shop refused it for good, or it was unreadable.
            case service
            /// The broker (`x-death`): rejected without requeue, or over the delivery limit.
            case broker
            /// Neither header is present (published here by hand?).
            case unknown
        }

        /// Who gave up on it.
        public let source: Source
        /// A short stable code to group by: the text before the first colon (e.g. a Shopify error code),
        /// `unreadable`, or `broker:<reason>`.
        public let code: String
        /// The full text.
        public let text: String
    }

    /// One dead-lettered message, as it sits in the queue.
    public struct Letter: Sendable {
        /// The message's `message_id`.
        public let messageId: String?
        /// The message as it sits in the dead-letter queue.
        public let body: [UInt8]
        /// Its properties, dead-letter headers included.
        public let properties: AMQPProperties
        /// Why it is here.
        public let reason: Reason
        /// When the broker dead-lettered it (`x-death` time) or, for a service's own dead letters, when the
        /// message was created (AMQP timestamp).
        public let time: Date?
        /// Times the dead-letter queue has delivered it before (listing counts too).
        public let deliveryCount: Int

        init(_ delivery: AMQPDelivery) {
            self.init(body: delivery.body, properties: delivery.properties)
        }

        /// Reads a letter's reason, time and count from its headers.
        public init(body: [UInt8], properties: AMQPProperties) {
            self.body = body
            self.properties = properties
            messageId = properties.messageId
            let death = Self.deaths(properties.headers).first
            if let text = properties.headers["x-stockwire-reason"]?.stringValue {
                let code = text.split(separator: ":", maxSplits: 1).first.map(String.init) ?? text
                reason = Reason(
                    source: .service, code: text.hasPrefix("unreadable") ? "unreadable" : code, text: text)
            } else if let death, let why = death["reason"]?.stringValue {
                let queue = death["queue"]?.stringValue ?? "?"
                let count = death["count"]?.intValue ?? 1
                reason = Reason(source: .broker, code: "broker:\(why)", text: "\(why) by \(queue) (\(count)×)")
            } else {
                reason = Reason(source: .unknown, code: "unknown", text: "no x-stockwire-reason or x-death header")
            }
            if let seconds = death?["time"]?.intValue ?? properties.timestamp.map({ Int64(clamping: $0) }) {
                time = Date(timeIntervalSince1970: TimeInterval(seconds))
            } else {
                time = nil
            }
            deliveryCount = Int(properties.headers["x-delivery-count"]?.intValue ?? 0)
        }

        /// The `x-death` entries, newest first, as the broker writes them.
        public static func deaths(_ headers: [String: AMQPValue]) -> [[String: AMQPValue]] {
            guard case .array(let entries) = headers["x-death"] else { return [] }
            return entries.compactMap { if case .table(let t) = $0 { return t } else { return nil } }
        }

        /// The routing key the message was first published with: `x-stockwire-original-routing-key` (set by a
        /// service that dead-letters by itself) or the broker's `x-death` `routing-keys`.
        public var originalRoutingKey: String? {
            if let key = properties.headers["x-stockwire-original-routing-key"]?.stringValue { return key }
            guard case .array(let keys)? = Self.deaths(properties.headers).last?["routing-keys"] else { return nil }
            return keys.first?.stringValue
        }

        /// The properties to replay with: unchanged, minus the dead-letter bookkeeping (`x-death`,
        /// `x-first-death-*`, `x-last-death-*`, `x-delivery-count`, `x-stockwire-*`), so the destination counts
        /// its deliveries afresh.
        public var replayProperties: AMQPProperties {
            var properties = properties
            properties.headers = properties.headers.filter { key, _ in !Self.isDeadLetterHeader(key) }
            return properties
        }

        /// Whether a header is dead-letter bookkeeping that replay strips.
        public static func isDeadLetterHeader(_ key: String) -> Bool {
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
public struct DeadLetterQueueError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Stable codes.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The dead-letter queue does not exist (wrong name, or its service never declared it).
        public static let queueNotFound = Code("queueNotFound")
        /// The queue to replay into does not exist.
        public static let destinationNotFound = Code("destinationNotFound")
        /// The broker refused a replayed copy; what was not replayed stays dead-lettered.
        public static let replayFailed = Code("replayFailed")
    }

    /// What went wrong, stable.
    public let code: Code
    /// The human explanation.
    public let message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
