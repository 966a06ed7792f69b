import AMQP
import ArgumentParser
import Foundation
import Logging

/// What the services' `dead-letters list|show|replay|purge` commands share: connecting, turning failures into a
/// message and an exit code, and printing. Each service keeps only its arguments and its ``DeadLetterQueue``.
///
/// Exit codes: 0 done; 1 failed (broker unreachable, no such queue, the broker refused a replayed copy); 2 no
/// message has the given id; 64 usage error.
public enum DeadLetterConsole {
    /// A column of the listing that describes a letter's content for its service (SKU, topic, …).
    public struct Column: Sendable {
        /// The header.
        public var title: String
        /// The cell of one letter.
        public var value: @Sendable (DeadLetterQueue.Letter) -> String

        /// Creates a column.
        public init(_ title: String, _ value: @escaping @Sendable (DeadLetterQueue.Letter) -> String) {
            self.title = title
            self.value = value
        }
    }

    /// Connects to the broker, runs `body` on the queue `make` builds, closes; errors become a message on standard
    /// error and exit code 1 (an ``ExitCode`` thrown by `body` passes through).
    public static func withQueue<T: Sendable>(
        broker: BrokerSettings, service: String, make: (AMQPConnection) -> DeadLetterQueue,
        _ body: (DeadLetterQueue) async throws -> T
    ) async throws -> T {
        let level = Environment.string("STOCKWIRE_LOG_LEVEL").flatMap(Logger.Level.init(rawValue:)) ?? .error
        let logger = Observability.bootstrap(service: service, level: level)
        let connection: AMQPConnection
        do {
            connection = AMQPConnection(
                configuration: try broker.configuration(connectionName: "\(service)-dead-letters"), logger: logger)
        } catch {
            throw fail("\(error)")
        }
        connection.start()
        do {
            try await connection.waitUntilConnected(timeout: .seconds(10))
            let result = try await body(make(connection))
            await connection.close()
            return result
        } catch let exit as ExitCode {
            await connection.close()
            throw exit
        } catch {
            await connection.close()
            throw fail("\(error)")
        }
    }

    /// Prints `message` to standard error and returns the exit code to throw.
    public static func fail(_ message: String, code: Int32 = 1) -> ExitCode {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
        return ExitCode(code)
    }

    /// The text `replay` prints, or the failure to throw when a replay by id found nothing.
    public static func replayed(
        _ result: DeadLetterQueue.ReplayResult, selection: DeadLetterQueue.Selection, queue: DeadLetterQueue
    ) throws -> String {
        if case .messageId(let id) = selection, result.replayed == 0 {
            throw fail("no message with id \(id) in \(queue.name); nothing replayed", code: 2)
        }
        return "replayed \(result.replayed) message(s) from \(queue.name) to \(queue.replayQueue); \(result.left) left\n"
    }

    /// The letters `show` prints, or the failure to throw when none has the id.
    public static func shown(_ letters: [DeadLetterQueue.Letter], messageId: String, queue: String) throws -> String {
        guard !letters.isEmpty else { throw fail("no message with id \(messageId) in \(queue)", code: 2) }
        return letters.map { render(details: $0) }.joined(separator: "\n")
    }

    // MARK: - Rendering

    /// The listing as a table (message id, the service's columns, time, reason) followed by the counts by reason.
    public static func render(_ listing: DeadLetterQueue.Listing, columns: [Column]) -> String {
        guard !listing.letters.isEmpty else {
            return "\(listing.queue) is empty\(consumersNote(listing))\n"
        }
        var out = "\(listing.queue): \(listing.ready) message(s)"
        if listing.letters.count < listing.ready { out += ", showing the first \(listing.letters.count)" }
        out += consumersNote(listing) + "\n\n"
        let rows: [[String]] =
            [["MESSAGE ID"] + columns.map(\.title) + ["TIME (UTC)", "REASON"]]
            + listing.letters.map { letter in
                [letter.messageId ?? "-"] + columns.map { $0.value(letter) }
                    + [letter.time.map(timestamp) ?? "-", letter.reason.text]
            }
        out += table(rows)
        out += "\nBy reason:\n"
        for (code, count) in listing.countsByReason { out += "  \(String(count).leftPadded(to: 6))  \(code)\n" }
        return out
    }

    /// Everything about one dead letter: properties, headers, the body (pretty-printed when it is JSON).
    public static func render(details letter: DeadLetterQueue.Letter) -> String {
        var out = ""
        func line(_ label: String, _ value: String?) {
            guard let value else { return }
            out += "\((label + ":").padded(to: 14))\(value)\n"
        }
        line("message id", letter.messageId ?? "-")
        line("reason", "\(letter.reason.text) (\(letter.reason.source.rawValue))")
        line("time (UTC)", letter.time.map(timestamp))
        line("deliveries", "\(letter.deliveryCount) from the dead-letter queue")
        line("type", letter.properties.type)
        line("content type", letter.properties.contentType)
        line("correlation", letter.properties.correlationId)
        if !letter.properties.headers.isEmpty {
            out += "headers:\n"
            for (key, value) in letter.properties.headers.sorted(by: { $0.key < $1.key }) {
                out += "  \(key): \(describe(value))\n"
            }
        }
        out += "body:\n"
        if let json = try? JSONSerialization.jsonObject(with: Data(letter.body)),
            let pretty = try? JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys])
        {
            out += String(decoding: pretty, as: UTF8.self) + "\n"
        } else {
            out += String(decoding: letter.body, as: UTF8.self) + "\n"
        }
        return out
    }

    private static func consumersNote(_ listing: DeadLetterQueue.Listing) -> String {
        listing.otherConsumers > 0
            ? " (\(listing.otherConsumers) other consumer(s) of the queue hold messages not shown here)" : ""
    }

    private static func timestamp(_ date: Date) -> String { Date.ISO8601FormatStyle().format(date) }

    /// Rows as left-aligned columns; the last column is not padded.
    public static func table(_ rows: [[String]]) -> String {
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { i, cell in i == row.count - 1 ? cell : cell.padded(to: widths[i]) }
                .joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }

    private static func describe(_ value: AMQPValue) -> String {
        switch value {
        case .string(let s): return s
        case .bytes(let b): return String(bytes: b, encoding: .utf8) ?? "\(b.count) bytes"
        case .bool(let b): return "\(b)"
        case .int32(let v): return "\(v)"
        case .int64(let v): return "\(v)"
        case .double(let v): return "\(v)"
        case .timestamp(let v): return timestamp(Date(timeIntervalSince1970: TimeInterval(v)))
        case .array(let items): return "[" + items.map(describe).joined(separator: ", ") + "]"
        case .table(let t):
            return "{" + t.sorted { $0.key < $1.key }.map { "\($0.key): \(describe($0.value))" }.joined(separator: ", ") + "}"
        case .void: return "void"
        }
    }
}

extension String {
    fileprivate func padded(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }

    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
