import AMQP
import ArgumentParser
import Contracts
import Foundation
import Logging
import ServiceKit

extension Exporter {
    /// `exporter resync <shop>`: asks the calculator to push the current availability of every SKU to one shop.
    ///
    /// The exporter owns no database and must not grow one, so it cannot read the truth itself: it sends a
    /// ``ResyncRequest`` to the calculator's request queue, and a running calculator answers by publishing every
    /// SKU's availability to `exporter.<shop>` only, flagged `x-stockwire-resync`. The shop's writer then reads the
    /// shop's actual levels and writes what differs, compare-and-set as always, even for versions it has written
    /// before (never over a newer one).
    struct Resync: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Push the current availability of every SKU to one shop (a new shop, or after a restore).",
            discussion: """
                Sends a resync request to the calculator (queue calculator.requests); a running calculator \
                publishes every SKU's availability to exporter.<shop> only, and the exporter writing that shop \
                reads its actual levels and corrects what differs. Other shops are not touched. Returns once the \
                broker took the request; the calculator logs "resync published" with the count, and the shop's \
                stockwire_exporter_resync_messages_total grows. Same effect without a running calculator: \
                `calculator publish-all --shop <shop>`.

                Exit codes: 0 requested; 1 failed (broker unreachable, no queue for the shop, no calculator queue).
                """)

        @Argument(help: "Shop domain, e.g. acme.myshopify.com.")
        var shop: String

        @Option(help: ArgumentHelp(BrokerSettings.urlHelp))
        var amqpURL: String?

        @Option(help: ArgumentHelp(BrokerSettings.passwordFileHelp))
        var amqpPasswordFile: String?

        @Option(help: "The calculator's request queue (default calculator.requests).")
        var requestsQueue = StockwireTopology.calculatorRequestsQueue

        func run() async throws {
            let level = Environment.string("STOCKWIRE_LOG_LEVEL").flatMap(Logger.Level.init(rawValue:)) ?? .error
            let logger = Observability.bootstrap(service: "exporter", level: level)
            let broker = BrokerSettings(url: amqpURL, passwordFile: amqpPasswordFile)
            let connection = AMQPConnection(
                configuration: try broker.configuration(connectionName: "exporter-resync"), logger: logger)
            connection.start()
            do {
                try await connection.waitUntilConnected(timeout: .seconds(10))
                try await Self.request(shop: shop, requestsQueue: requestsQueue, connection: connection)
                await connection.close()
            } catch {
                await connection.close()
                FileHandle.standardError.write(Data("error: \(error)\n".utf8))
                throw ExitCode(1)
            }
            print(
                "resync of \(shop) requested: the calculator publishes every SKU to \(StockwireTopology.exporterQueue(shop: shop))"
            )
        }

        /// Checks that the shop's queue exists and sends the request; errors name the queue and the fix.
        static func request(shop text: String, requestsQueue: String, connection: AMQPConnection) async throws {
            let shop: ShopDomain
            do {
                shop = try ShopDomain(text)
            } catch {
                throw ConfigurationError("\(error)")
            }
            let shopQueue = StockwireTopology.exporterQueue(shop: shop.description)
            do {
                _ = try await connection.queueInfo(shopQueue)
            } catch let error as AMQPError where error.replyCode == 404 {
                throw ConfigurationError("no queue \(shopQueue): start the exporter with \(shop) in its shops file first")
            }
            let request = ResyncRequest(shop: shop, requestedAtMillis: Int64(Date().timeIntervalSince1970 * 1000))
            do {
                try await connection.publish(
                    AMQPMessage(
                        exchange: "", routingKey: requestsQueue, body: try request.json(),
                        properties: ResyncRequest.properties(
                            messageId: "resync/\(shop)/\(request.requestedAtMillis)", timestampMillis: request.requestedAtMillis),
                        mandatory: true),
                    timeout: .seconds(10))
            } catch let error as AMQPError where error.code == .unroutable {
                throw ConfigurationError(
                    "no queue \(requestsQueue): start the calculator once (it declares it), or pass --requests-queue")
            }
        }
    }
}
