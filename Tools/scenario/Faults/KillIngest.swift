import Foundation

/// The `kill-ingest` fault.
struct KillIngest: FaultDefinition {
    let summary = """
        SIGKILL ingest with webhooks and movements in flight; Shopify and the warehouse retry what was not 2xx.
        """

    /// SIGKILL with requests in flight (publishes awaiting the broker's confirm, so their senders have no answer
    /// yet); down for `downSeconds` (deliveries fail and are retried), then restart.
    func inject(_ c: BlackFriday.LoadContext, _ injector: FaultInjector) async throws {
        for i in 0..<injector.settings.kills {
            try await injector.at(c, injector.killTime(i))
            try await Self.once(injector, downSeconds: injector.settings.downSeconds)
        }
    }

    /// One kill, with publishes awaiting their confirm if any come within 3 s, and the restart after `downSeconds`
    /// (the soak's too).
    static func once(_ injector: FaultInjector, downSeconds: Double) async throws {
        let deadline = ContinuousClock.now + .seconds(3)
        var pending = 0.0
        var page = ""
        while pending == 0, ContinuousClock.now < deadline {
            page = await injector.stack.metrics(injector.stack.ingestURL)
            pending = BlackFriday.counter(page, "stockwire_ingest_confirms_pending_messages")
        }
        try await injector.stack.kill9(.ingest)
        await injector.note(
            "SIGKILL ingest with \(Int(pending)) publishes awaiting the broker's confirm "
                + "(\(Int(BlackFriday.counter(page, "stockwire_ingest_requests_total"))) requests answered by this instance)")
        try await Task.sleep(for: .milliseconds(Int(downSeconds * 1000)))
        try await injector.restart(.ingest)
        await injector.note("ingest restarted and ready")
    }
}
