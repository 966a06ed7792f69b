import AMQP
import ArgumentParser
import Contracts
import ServiceKit

extension DeadLetterQueue {
    /// The calculator's dead letters `dead.<queue>`: events it could not understand or apply (header
    /// `x-stockwire-reason`), or that the broker dead-lettered at the delivery limit (`x-death`).
    ///
    /// Replay publishes each event again to the events exchange with its original routing key
    /// (`x-stockwire-original-routing-key`, else the broker's `x-death` routing key), not straight to the
    /// calculator's queue: so the event also lands in the event log again, at the point where it can be applied,
    /// and a later rebuild from the log applies it after what it needed (e.g. the SKU's registration) instead of
    /// rejecting it again at its first position. Dedupe makes the second copy in the log harmless.
    static func calculator(queue: String, eventsExchange: String, connection: AMQPConnection) -> DeadLetterQueue {
        DeadLetterQueue(
            queue: queue, connection: connection,
            route: ReplayRoute(
                destination: queue,
                destinationMissingHint: "start the calculator once (it declares its queue), or pass --queue"
            ) { letter, properties in
                AMQPMessage(
                    exchange: eventsExchange, routingKey: letter.eventRoutingKey, body: letter.body,
                    properties: properties, mandatory: true)
            },
            missingHint: "the calculator (or ingest) declares it at start; check --queue")
    }
}

extension DeadLetterQueue.Letter {
    /// The routing key to replay an event with: the original one, else rebuilt from the envelope's headers.
    var eventRoutingKey: String {
        if let key = originalRoutingKey { return key }
        let source = properties.headers["source"]?.stringValue ?? "unknown"
        let topic = properties.headers["topic"]?.stringValue ?? "unknown"
        return "\(source).\(topic.replacingOccurrences(of: "/", with: "."))"
    }
}

extension CalculatorCommand {
    /// `calculator dead-letters list|show|replay|purge`: the operator's view of the calculator's dead letters.
    struct DeadLetters: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "dead-letters",
            abstract: "Inspect, replay or purge the calculator's dead letters (queue dead.calculator.events).",
            discussion: """
                The calculator's dead letters are events it could not use: unreadable (bad envelope or payload), \
                or refused (e.g. a movement of an unknown SKU or warehouse; header x-stockwire-reason), or \
                dead-lettered by the broker at the delivery limit (x-death). list and show leave every message in \
                the queue; replay publishes events again to stockwire.events with their original routing key (so \
                they also land in the event log again) and removes them once the broker confirmed; fix the cause \
                first (register the SKU, add the warehouse). purge deletes them for good.

                Exit codes: 0 done; 1 failed (broker unreachable, no such queue, the broker refused a replayed copy; \
                nothing is lost: what was not replayed stays dead-lettered); 2 no message has the given --message-id; \
                64 usage error (e.g. purge without --yes).
                """,
            subcommands: [List.self, Show.self, Replay.self, Purge.self])

        /// Broker and queue options every dead-letter command takes.
        struct QueueOptions: ParsableArguments {
            @OptionGroup var broker: BrokerOptions
            @Option(help: "The calculator's queue (env STOCKWIRE_CALCULATOR_QUEUE; default calculator.events).")
            var queue: String?
            @Option(help: "Exchange replay publishes to (env STOCKWIRE_EVENTS_EXCHANGE; default stockwire.events).")
            var eventsExchange: String?

            func withQueue<T: Sendable>(_ body: (DeadLetterQueue) async throws -> T) async throws -> T {
                let queue = queue ?? Environment.string("STOCKWIRE_CALCULATOR_QUEUE") ?? StockwireTopology.calculatorQueue
                let exchange =
                    eventsExchange ?? Environment.string("STOCKWIRE_EVENTS_EXCHANGE") ?? StockwireTopology.eventsExchange
                return try await DeadLetterConsole.withQueue(
                    broker: broker.settings, service: "calculator",
                    make: { DeadLetterQueue.calculator(queue: queue, eventsExchange: exchange, connection: $0) }, body)
            }
        }

        /// The listing's columns: the event's topic, shop and original routing key.
        static func render(_ listing: DeadLetterQueue.Listing) -> String {
            DeadLetterConsole.render(
                listing,
                columns: [
                    .init("ROUTING KEY") { $0.eventRoutingKey },
                    .init("SHOP") { $0.properties.headers["shop"]?.stringValue ?? "-" },
                ])
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "List the dead letters (message id, routing key, shop, time, reason) and counts by reason.",
                discussion: "Nothing is removed: messages are read without acknowledgement and released at once.")
            @Option(help: "Show at most this many messages (1–65535).") var limit: Int = 10_000
            @OptionGroup var options: QueueOptions

            func validate() throws {
                guard (1...Int(UInt16.max)).contains(limit) else { throw ValidationError("--limit must be 1…65535") }
            }

            func run() async throws {
                let listing = try await options.withQueue { try await $0.list(limit: limit) }
                print(DeadLetters.render(listing), terminator: "")
            }
        }

        struct Show: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Show every property, header and the body of the dead letters with a message id.",
                discussion: "Nothing is removed. Exit code 2 when no message has the id.")
            @Option(help: "The message id, as `list` prints it (<shop>/<webhook id> or warehouse/<movement id>).")
            var messageId: String
            @OptionGroup var options: QueueOptions

            func run() async throws {
                let (letters, queue) = try await options.withQueue { q in (try await q.letters(messageId: messageId), q.name) }
                print(try DeadLetterConsole.shown(letters, messageId: messageId, queue: queue), terminator: "")
            }
        }

        struct Replay: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Publish dead letters again to the events exchange, then remove them.",
                discussion: """
                    Each event is published unchanged (minus x-death, x-delivery-count and x-stockwire-* headers) \
                    with its original routing key; the dead letter is removed only after the broker confirmed the \
                    copy. An event already applied is a duplicate and changes nothing.
                    """)
            @Flag(help: "Replay every message in the queue when the command starts.") var all = false
            @Option(help: "Replay only the message(s) with this id.") var messageId: String?
            @OptionGroup var options: QueueOptions

            func validate() throws {
                guard all != (messageId != nil) else { throw ValidationError("pass exactly one of --all and --message-id ID") }
            }

            func run() async throws {
                let selection: DeadLetterQueue.Selection = messageId.map { .messageId($0) } ?? .all
                let text = try await options.withQueue { q in
                    try DeadLetterConsole.replayed(try await q.replay(selection), selection: selection, queue: q)
                }
                print(text, terminator: "")
            }
        }

        struct Purge: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Delete every dead letter of the calculator for good (requires --yes).",
                discussion: "Run `calculator dead-letters list` first: purged messages cannot be replayed.")
            @Flag(help: "Confirm that the messages are to be deleted.") var yes = false
            @OptionGroup var options: QueueOptions

            func validate() throws {
                guard yes else {
                    throw ValidationError("purge deletes every dead letter of the calculator for good; list them first, then pass --yes")
                }
            }

            func run() async throws {
                let (count, queue) = try await options.withQueue { q in (try await q.purge(), q.name) }
                print("purged \(count) message(s) from \(queue)")
            }
        }
    }
}
