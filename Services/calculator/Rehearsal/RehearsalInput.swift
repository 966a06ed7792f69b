import Contracts
import Dispatch
import Foundation
import StockCore
import Synchronization

/// One event of a rehearsed day: what the calculator would apply, and when it happened.
struct RehearsalEvent: Sendable {
    /// When it happened (ms since 1970): the checkout for an order's first snapshot, the receipt of a movement.
    var atMillis: Int64
    var event: StockEvent
    var cause: EventCause
    var topic: String
}

/// The events of a day, read from files or the event log, sorted by time, and what of them could not be used.
///
/// Nothing here writes anywhere: the readers only read files (or, in ``RehearsalStreamReader``, consume the log).
struct RehearsalInput: Sendable {
    var events: [RehearsalEvent] = []
    /// Starting stock per SKU (`--stock`), applied before every event as a stocktake.
    var startingStock: [String: Int64] = [:]
    /// Lines or events read, in all.
    var read = 0
    /// What could not be used, by reason (shown to the merchant: nothing is dropped silently).
    var notUsed: [String: Int] = [:]

    mutating func skip(_ reason: String, count: Int = 1) { notUsed[reason, default: 0] += count }

    /// Sorts the events by time; events of the same millisecond keep the order they were read in.
    mutating func sort() {
        events = events.enumerated().sorted { ($0.element.atMillis, $0.offset) < ($1.element.atMillis, $1.offset) }
            .map(\.element)
    }

    // MARK: - Shopify order exports

    /// Reads a file with one Shopify order body per line (REST Admin JSON, as an export or webhooks give it).
    ///
    /// The first body of an order is its checkout, at `created_at`, with the quantities ordered (`quantity`): that is
    /// the buyer the rehearsal lets buy or refuses. When that body (or a later one) shows the order changed since
    /// (cancelled, or lines edited or refunded: `current_quantity` below `quantity`), a second event at `updated_at`
    /// carries the change. Shopify's times have whole seconds: orders of the same second are spread evenly over it,
    /// in the file's order, so that the shops' sync delay (milliseconds) can act between them.
    mutating func readOrders(path: String, shop: ShopDomain) throws {
        var seen = Set<Int64>()
        var checkouts: [(index: Int, second: Int64)] = []
        try RehearsalFile.forEachLine(path) { number, line in
            read += 1
            let order: ShopifyEventDecoder.ShopifyOrder
            do {
                order = try ShopifyEventDecoder.order(Array(line))
            } catch {
                skip("\(path): not a Shopify order body (first at line \(number): \(error))")
                return
            }
            let messageId = "\(shop)/rehearsal/\(order.id)/\(number)"
            do {
                var snapshot = try ShopifyEventDecoder.orderSnapshot(order, shop: shop, preferCommittedAt: false)
                if seen.insert(order.id).inserted {
                    guard let createdText = order.created_at ?? order.updated_at,
                        let created = ShopifyTimestamp.millis(createdText)
                    else {
                        skip("order without a readable created_at")
                        return
                    }
                    var checkout = snapshot
                    checkout.cancelled = false
                    checkout.updatedAtMillis = created
                    checkout.lines = checkout.lines.map {
                        var l = $0; l.currentQuantity = l.quantity; return l
                    }
                    checkouts.append((events.count, created))
                    events.append(
                        RehearsalEvent(
                            atMillis: created, event: .order(checkout),
                            cause: EventCause(messageId: messageId + "/checkout", receivedAtMillis: created),
                            topic: "orders/create"))
                    let changed = snapshot.cancelled || snapshot.lines.contains { $0.currentQuantity < $0.quantity }
                    guard changed else { return }
                }
                // After the checkout, even when Shopify stamped both with the same second (whose checkouts are
                // spread over it): then at the end of that second.
                let created = order.created_at.flatMap(ShopifyTimestamp.millis) ?? snapshot.updatedAtMillis
                let at = max(snapshot.updatedAtMillis, created + 999)
                snapshot.updatedAtMillis = at
                events.append(
                    RehearsalEvent(
                        atMillis: at, event: .order(snapshot),
                        cause: EventCause(messageId: messageId, receivedAtMillis: at),
                        topic: snapshot.cancelled ? "orders/cancelled" : "orders/updated"))
            } catch {
                skip("order the calculator would refuse (\(error))")
            }
        }
        spreadWithinSeconds(checkouts)
    }

    /// Gives the checkouts of one second evenly spaced times within it, in file order.
    private mutating func spreadWithinSeconds(_ checkouts: [(index: Int, second: Int64)]) {
        let bySecond = Dictionary(grouping: checkouts, by: \.second)
        for (second, group) in bySecond where group.count > 1 {
            let step = 1000 / Int64(group.count)
            for (k, c) in group.enumerated() {
                events[c.index].atMillis = second + Int64(k) * step
            }
        }
    }

    // MARK: - Stockwire event-log exports

    /// Reads a file written by `calculator rehearse --save-events`: per line a header (JSON, ``SavedEvent/Header``),
    /// a tab, and the event's body exactly as ingest received it. Lines are decoded on every core, in chunks, and
    /// kept in the file's order.
    mutating func readSavedEvents(path: String) throws {
        let bytes = try RehearsalFile.load(path)
        let lines = RehearsalFile.lines(bytes)
        let chunks = max(1, min(64, lines.count / 2_000))
        let parts = Mutex([RehearsalInput](repeating: RehearsalInput(), count: chunks))
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            var part = RehearsalInput()
            let range = (lines.count * chunk / chunks)..<(lines.count * (chunk + 1) / chunks)
            for (number, line) in lines[range] { part.readSavedEvent(bytes[line], number: number, path: path) }
            parts.withLock { $0[chunk] = part }
        }
        for part in parts.withLock({ $0 }) {
            read += part.read
            events.append(contentsOf: part.events)
            for (reason, count) in part.notUsed { skip(reason, count: count) }
        }
    }

    private mutating func readSavedEvent(_ line: ArraySlice<UInt8>, number: Int, path: String) {
        read += 1
        guard let tab = line.firstIndex(of: UInt8(ascii: "\t")) else {
            skip("\(path): line without a tab between header and body")
            return
        }
        let header: SavedEvent.Header
        do {
            header = try JSONDecoder().decode(SavedEvent.Header.self, from: Data(line[..<tab]))
        } catch {
            skip("\(path): unreadable header")
            return
        }
        add(header.envelope(body: Array(line[(tab + 1)...])))
    }

    /// Adds one event of the event log (read from a saved file or the stream).
    mutating func add(_ envelope: EventEnvelope) {
        let cause = EventCause(messageId: envelope.messageId, receivedAtMillis: envelope.receivedAtMillis)
        do {
            let event = try EventDecoder.decode(envelope)
            if case .ignored = event {
                skip("\(envelope.topic): does not move stock")
                return
            }
            if case .catalog = event {
                skip("\(envelope.topic): catalog (the rehearsal needs no variant map)")
                return
            }
            events.append(RehearsalEvent(atMillis: envelope.receivedAtMillis, event: event, cause: cause, topic: envelope.topic))
        } catch {
            skip("\(envelope.source.rawValue) \(envelope.topic) the calculator would refuse")
        }
    }

    // MARK: - Starting stock

    /// Reads `sku,on_hand` lines (a header line `sku,on_hand` is allowed; `#` starts a comment).
    mutating func readStock(path: String) throws {
        try RehearsalFile.forEachSkuNumber(path, column: "on_hand") { sku, units in startingStock[sku] = units }
    }
}

/// A line of an event-log export: the envelope's fields as JSON, a tab, the raw body.
enum SavedEvent {
    struct Header: Codable, Sendable {
        var source: String
        var shop: ShopDomain?
        var topic: String
        var id: String
        var received_at_ms: Int64
        var triggered_at: String?

        init(_ e: EventEnvelope) {
            source = e.source.rawValue
            shop = e.shop
            topic = e.topic
            id = e.deliveryId
            received_at_ms = e.receivedAtMillis
            triggered_at = e.triggeredAt
        }

        func envelope(body: [UInt8]) -> EventEnvelope {
            EventEnvelope(
                source: EventEnvelope.Source(rawValue: source) ?? .shopify, shop: shop, topic: topic, deliveryId: id,
                triggeredAt: triggered_at, receivedAtMillis: received_at_ms, body: body)
        }
    }

    /// The line for `envelope` (ending in a newline). Bodies are compact JSON: a newline inside one is escaped away.
    static func line(_ envelope: EventEnvelope) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var out = Array(try encoder.encode(Header(envelope)))
        out.append(UInt8(ascii: "\t"))
        out.append(
            contentsOf: envelope.body.map { $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") ? UInt8(ascii: " ") : $0 })
        out.append(UInt8(ascii: "\n"))
        return out
    }
}

/// Reading line files.
enum RehearsalFile {
    static func load(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RehearsalError("cannot read \(path): no such file, or not readable")
        }
        return [UInt8](data)
    }

    /// The 1-based number and byte range (without the newline or a carriage return) of every non-blank line.
    static func lines(_ bytes: [UInt8]) -> [(Int, Range<Int>)] {
        var out: [(Int, Range<Int>)] = []
        var start = 0
        var number = 0
        while start < bytes.count {
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
            number += 1
            var stop = end
            if stop > start, bytes[stop - 1] == UInt8(ascii: "\r") { stop -= 1 }
            if bytes[start..<stop].contains(where: { $0 != UInt8(ascii: " ") }) { out.append((number, start..<stop)) }
            start = end + 1
        }
        return out
    }

    /// Calls `body` with every `sku,<column>` line of a CSV file: a whole number ≥ 0 per SKU; a header line
    /// `sku,<column>` and `#` comments are allowed, anything else is an error naming the line.
    static func forEachSkuNumber(_ path: String, column: String, _ body: (String, Int64) throws -> Void) throws {
        try forEachLine(path) { number, line in
            let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespaces)
            guard !text.isEmpty, !text.hasPrefix("#"), text.lowercased() != "sku,\(column)" else { return }
            let fields = text.split(separator: ",", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            guard fields.count == 2, !fields[0].isEmpty, let value = Int64(fields[1]), value >= 0 else {
                throw RehearsalError("\(path):\(number): expected `sku,\(column)` with a whole number ≥ 0, got '\(text)'")
            }
            try body(fields[0], value)
        }
    }

    /// Calls `body` with every non-blank line and its 1-based number.
    static func forEachLine(_ path: String, _ body: (Int, ArraySlice<UInt8>) throws -> Void) throws {
        let bytes = try load(path)
        for (number, range) in lines(bytes) { try body(number, bytes[range]) }
    }
}

/// A rehearsal input or setting that cannot be used, said plainly.
struct RehearsalError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
