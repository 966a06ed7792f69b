import AMQP
import ArgumentParser
import Contracts
import Foundation
import Logging
import ServiceKit

extension Exporter {
    /// `exporter dead-letters list|show|replay|purge <shop>`: the operator's view of a shop's dead letters. The work
    /// is done by ``DeadLetterQueue``; these commands parse, connect and print.
    struct DeadLetters: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "dead-letters",
            abstract: "Inspect, replay or purge a shop's dead letters (queue dead.exporter.<shop>).",
            discussion: """
                A shop's dead letters are the availability messages the exporter gave up on: the shop refused them \
                for good (header x-stockwire-reason, e.g. INVALID_INVENTORY_ITEM), the body was unreadable, or the \
                broker dead-lettered them (x-death: rejected, delivery_limit). list and show leave every message \
                in the queue; replay sends messages back to the shop's own queue exporter.<shop> only (through the \
                default exchange, never to the other shops), then removes them; purge deletes them for good.

                Exit codes: 0 done; 1 failed (broker unreachable, no such queue, the broker refused a replayed copy; \
                nothing is lost: what was not replayed stays dead-lettered); 2 no message has the given --message-id; \
                64 usage error (e.g. purge without --yes).
                """,
            subcommands: [List.self, Show.self, Replay.self, Purge.self])

        /// The broker options every dead-letter command takes, resolved like `exporter run`'s.
        struct BrokerOptions: ParsableArguments {
            @Option(help: ArgumentHelp(BrokerSettings.urlHelp))
            var amqpURL: String?

            @Option(help: ArgumentHelp(BrokerSettings.passwordFileHelp))
            var amqpPasswordFile: String?

            /// Connects, runs `body` on the shop's dead-letter queue, closes; errors become a message on standard
            /// error and exit code 1.
            func withQueue<T: Sendable>(
                shop: String, _ body: (DeadLetterQueue) async throws -> T
            ) async throws -> T {
                try await DeadLetterConsole.withQueue(
                    broker: BrokerSettings(url: amqpURL, passwordFile: amqpPasswordFile), service: "exporter",
                    make: { DeadLetterQueue(shop: shop, connection: $0) }, body)
            }
        }

        // MARK: - list

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "List a shop's dead letters (message id, SKU, version, time, reason) and counts by reason.",
                discussion: """
                    Nothing is removed: the messages are read without acknowledgement and released at once (each \
                    listing adds one to a message's x-delivery-count, which the dead-letter queue does not limit). \
                    TIME is when the broker dead-lettered the message (x-death) or, for the exporter's own dead \
                    letters, when the message was created.
                    """)

            @Argument(help: "Shop domain, e.g. acme.myshopify.com.")
            var shop: String

            @Option(help: "Show at most this many messages (1–65535).")
            var limit: Int = 10_000

            @OptionGroup var broker: BrokerOptions

            func validate() throws {
                guard (1...Int(UInt16.max)).contains(limit) else { throw ValidationError("--limit must be 1…65535") }
            }

            func run() async throws {
                let listing = try await broker.withQueue(shop: shop) { try await $0.list(limit: limit) }
                print(DeadLetters.render(listing), terminator: "")
            }
        }

        // MARK: - show

        struct Show: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Show every property, header and the body of the dead letters with a message id.",
                discussion: "Nothing is removed. Exit code 2 when no message has the id.")

            @Argument(help: "Shop domain, e.g. acme.myshopify.com.")
            var shop: String

            @Option(help: "The message id, as `list` prints it (<sku>/<version> for the calculator's messages).")
            var messageId: String

            @OptionGroup var broker: BrokerOptions

            func run() async throws {
                let (letters, queue) = try await broker.withQueue(shop: shop) { q in
                    (try await q.letters(messageId: messageId), q.name)
                }
                print(try DeadLetterConsole.shown(letters, messageId: messageId, queue: queue), terminator: "")
            }
        }

        // MARK: - replay

        struct Replay: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Send dead letters back to the shop's queue exporter.<shop>, then remove them.",
                discussion: """
                    Each message is published unchanged (minus x-death, x-delivery-count and x-stockwire-* headers) \
                    to the default exchange with routing key exporter.<shop>, so only this shop receives it; the dead \
                    letter is removed only after the broker confirmed the copy. Fix the cause first (e.g. map the \
                    SKU in the shop), or the exporter dead-letters the message again. The exporter writes only \
                    versions newer than what it has written; an older replayed version is dropped as obsolete.
                    """)

            @Argument(help: "Shop domain, e.g. acme.myshopify.com.")
            var shop: String

            @Flag(help: "Replay every message in the queue when the command starts.")
            var all = false

            @Option(help: "Replay only the message(s) with this id.")
            var messageId: String?

            @OptionGroup var broker: BrokerOptions

            func validate() throws {
                guard all != (messageId != nil) else { throw ValidationError("pass exactly one of --all and --message-id ID") }
            }

            func run() async throws {
                let selection: DeadLetterQueue.Selection = messageId.map { .messageId($0) } ?? .all
                let (result, queue) = try await broker.withQueue(shop: shop) { q in
                    (try await q.replay(selection), q)
                }
                print(try DeadLetterConsole.replayed(result, selection: selection, queue: queue), terminator: "")
            }
        }

        // MARK: - purge

        struct Purge: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Delete every dead letter of a shop for good (requires --yes).",
                discussion: "Run `exporter dead-letters list <shop>` first: purged messages cannot be replayed.")

            @Argument(help: "Shop domain, e.g. acme.myshopify.com.")
            var shop: String

            @Flag(help: "Confirm that the messages are to be deleted.")
            var yes = false

            @OptionGroup var broker: BrokerOptions

            func validate() throws {
                guard yes else {
                    throw ValidationError(
                        "purge deletes every message in \(StockwireTopology.deadLetterQueue(of: StockwireTopology.exporterQueue(shop: shop))) "
                            + "for good; list them first, then pass --yes")
                }
            }

            func run() async throws {
                let (count, queue) = try await broker.withQueue(shop: shop) { q in (try await q.purge(), q.name) }
                print("purged \(count) message(s) from \(queue)")
            }
        }
    }
}

// MARK: - Rendering

extension Exporter.DeadLetters {
    /// The listing as a table (message id, SKU, version, time, reason) followed by the counts by reason.
    static func render(_ listing: DeadLetterQueue.Listing) -> String {
        DeadLetterConsole.render(
            listing,
            columns: [
                .init("SKU") { $0.availability?.sku ?? "(unreadable)" },
                .init("VERSION") { $0.availability.map { String($0.version) } ?? "-" },
            ])
    }
}
