import Foundation

/// The `broker-crash` fault.
struct BrokerCrash: FaultDefinition {
    let summary = """
        RabbitMQ SIGKILLed mid-load (deploy/local/rabbitmq.sh crash: no shutdown, as when its machine dies) and \
        started again after --down-seconds (default 1): what a publish confirm promised must survive in the quorum \
        queues, ingest answers 503 meanwhile (Shopify retries), every service reconnects and re-declares.
        """

    var servers: FaultServers { .single }
    var defaultDownSeconds: Double { 1 }
    var needsLongRetries: Bool { true }

    /// SIGKILL of the broker at 40 % of the load, started again after `downSeconds`.
    func inject(_ c: BlackFriday.LoadContext, _ injector: FaultInjector) async throws {
        try await injector.at(c, injector.load.seconds * 0.4)
        try await Self.once(injector, downSeconds: injector.settings.downSeconds)
    }

    /// One crash, and the start after `downSeconds` (the soak's too).
    static func once(_ injector: FaultInjector, downSeconds: Double) async throws {
        let page = await injector.stack.metrics(injector.stack.ingestURL)
        try await injector.server("rabbitmq", ["crash"])
        await injector.note(
            "SIGKILL RabbitMQ with \(Int(BlackFriday.counter(page, "stockwire_ingest_confirms_pending_messages"))) publishes "
                + "awaiting its confirm at ingest")
        let took = try await injector.startAgain("rabbitmq", after: downSeconds)
        await injector.note("RabbitMQ started again (\(took) s to boot)")
    }
}
