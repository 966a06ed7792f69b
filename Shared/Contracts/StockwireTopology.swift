import AMQP

/// The broker topology every service declares at start (idempotently), named once here.
public enum StockwireTopology {
    /// Topic exchange every accepted event is published to (`shopify.<topic>`, `warehouse.<kind>`).
    public static let eventsExchange = "stockwire.events"
    /// The calculator's work queue, bound `#`.
    public static let calculatorQueue = "calculator.events"
    /// The stream every event also lands in: the broker-level replay source.
    public static let eventsLog = "stockwire.events.log"
    /// Exchange of per-SKU availability messages.
    public static let availabilityExchange = "stockwire.availability"
    /// Exchange of exporters' write reports (routing key: the shop's domain), for `calculator explain`.
    public static let writesExchange = "stockwire.writes"
    /// The calculator's queue of write reports.
    public static let calculatorWritesQueue = "calculator.writes"
    /// Exchange of per-shop catalog messages (routing key: the shop's domain).
    public static let catalogExchange = "stockwire.catalog"
    /// Dead-letter exchange; each consumer's dead letters go to `dead.<consumer queue>`.
    public static let deadExchange = "stockwire.dead"
    /// The calculator's queue of operator requests (e.g. ``ResyncRequest``), sent through the default exchange.
    public static let calculatorRequestsQueue = "calculator.requests"
    /// Header flagging an availability message as a resync: an exporter writes it even when it has written this
    /// version before (reading the shop's level first), never when it has written a newer one.
    public static let resyncHeader = "x-stockwire-resync"
    /// The value of ``resyncHeader`` on a periodic reconciliation round: the exporter reads the shop and writes only
    /// what drifted, keeping what its ledger knows of sales still on their way (an operator's resync, any other value,
    /// forgets it: the shop may have been restored).
    public static let resyncReconcile = "reconcile"
    /// Deliveries after which a message that keeps failing is dead-lettered.
    public static let deliveryLimit = 5

    /// The queue one exporter instance group consumes for `shop`.
    public static func exporterQueue(shop: String) -> String { "exporter.\(shop)" }

    /// The dead-letter queue of a consumer queue.
    public static func deadLetterQueue(of queue: String) -> String { "dead.\(queue)" }

    /// What ingest needs: the events exchange with the calculator's queue and the event log bound to it, so that
    /// a mandatory publish is only confirmed once a durable queue holds the event.
    ///
    /// The event log's retention applies when the stream is first declared; RabbitMQ refuses a declaration whose
    /// arguments differ from the existing stream's, so an existing log's retention is changed with a policy.
    public static func ingest(logMaxAge: String = "7D", logMaxBytes: Int64 = 20_000_000_000) -> [AMQPTopology] {
        calculatorInput() + [
            .stream(eventsLog, maxAge: logMaxAge, maxLengthBytes: logMaxBytes),
            .binding(queue: eventsLog, exchange: eventsExchange, routingKey: "#"),
        ]
    }

    /// The names a calculator declares and uses: the standard ones, or (tests, several deployments on one broker)
    /// others of the same shape.
    public struct CalculatorNames: Sendable, Equatable {
        public var queue = calculatorQueue
        public var eventsExchange = StockwireTopology.eventsExchange
        public var deadExchange = StockwireTopology.deadExchange
        public var availabilityExchange = StockwireTopology.availabilityExchange
        public var catalogExchange = StockwireTopology.catalogExchange
        public var requestQueue = calculatorRequestsQueue
        public var writesExchange = StockwireTopology.writesExchange
        public var writesQueue = calculatorWritesQueue

        /// The standard names.
        public init() {}
    }

    /// The events exchange and the calculator's queue with its dead letters.
    static func calculatorInput(_ n: CalculatorNames = .init()) -> [AMQPTopology] {
        [.exchange(name: n.eventsExchange, kind: .topic)] + deadLetters(for: n.queue, deadExchange: n.deadExchange) + [
            .quorumQueue(
                n.queue, deadLetterExchange: n.deadExchange, deadLetterRoutingKey: n.queue, deliveryLimit: deliveryLimit),
            .binding(queue: n.queue, exchange: n.eventsExchange, routingKey: "#"),
        ]
    }

    /// What the calculator needs: its input queue, its request queue, and the availability and catalog exchanges.
    /// Not the event log: ingest declares it with the retention it is configured with.
    public static func calculator(_ n: CalculatorNames = .init()) -> [AMQPTopology] {
        calculatorInput(n) + [
            .exchange(name: n.writesExchange, kind: .topic), .quorumQueue(n.writesQueue),
            .binding(queue: n.writesQueue, exchange: n.writesExchange, routingKey: "#"),
            .exchange(name: n.availabilityExchange, kind: .topic), .exchange(name: n.catalogExchange, kind: .topic),
            .quorumQueue(n.requestQueue),
        ]
    }

    /// What an exporter needs for its shops: one single-active-consumer quorum queue per shop, bound to every
    /// availability message and to the shop's own catalog messages (so both arrive in the order they were
    /// published, and a SKU's mapping is known before its first write).
    ///
    /// The exchanges are only ever changed by tests, to keep their traffic apart.
    public static func exporter(
        shops: [String], availabilityExchange: String = availabilityExchange, catalogExchange: String = catalogExchange
    ) -> [AMQPTopology] {
        var items: [AMQPTopology] = [
            .exchange(name: availabilityExchange, kind: .topic), .exchange(name: catalogExchange, kind: .topic),
            .exchange(name: writesExchange, kind: .topic),
        ]
        for shop in shops {
            let queue = exporterQueue(shop: shop)
            items += deadLetters(for: queue)
            items += [
                .quorumQueue(
                    queue, deadLetterExchange: deadExchange, deadLetterRoutingKey: queue, deliveryLimit: deliveryLimit,
                    singleActiveConsumer: true),
                .binding(queue: queue, exchange: availabilityExchange, routingKey: "#"),
                .binding(queue: queue, exchange: catalogExchange, routingKey: shop),
            ]
        }
        return items
    }

    /// The dead-letter exchange and the queue that keeps `queue`'s dead letters until an operator acts.
    public static func deadLetters(for queue: String, deadExchange: String = deadExchange) -> [AMQPTopology] {
        let dead = deadLetterQueue(of: queue)
        return [
            .exchange(name: deadExchange, kind: .direct),
            .quorumQueue(dead),
            .binding(queue: dead, exchange: deadExchange, routingKey: queue),
        ]
    }
}
