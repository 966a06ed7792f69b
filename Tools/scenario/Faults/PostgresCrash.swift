import Foundation

/// The `postgres-crash` fault.
struct PostgresCrash: FaultDefinition {
    let summary = """
        PostgreSQL stopped in immediate mode (deploy/local/postgres.sh crash) mid-load for --down-seconds (default 30) \
        and started again (crash recovery): ingest keeps accepting into the broker, the calculator's batches fail \
        without an ack and are applied once it is back.
        """

    var servers: FaultServers { .single }
    var defaultDownSeconds: Double { 30 }
    var needsLongRetries: Bool { true }

    /// PostgreSQL stopped in immediate mode at 30 % of the load, started again after `downSeconds`.
    func inject(_ c: BlackFriday.LoadContext, _ injector: FaultInjector) async throws {
        try await injector.at(c, injector.load.seconds * 0.3)
        try await Self.once(injector, downSeconds: injector.settings.downSeconds)
    }

    /// One crash, and the start after `downSeconds` (the soak's too).
    static func once(_ injector: FaultInjector, downSeconds: Double) async throws {
        try await injector.server("postgres", ["crash"])
        await injector.note("PostgreSQL stopped in immediate mode (no checkpoint, every client cut off)")
        let took = try await injector.startAgain("postgres", after: downSeconds)
        await injector.note("PostgreSQL started again after crash recovery (\(took) s)")
    }
}
