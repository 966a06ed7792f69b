import Foundation

/// The `postgres-cut` fault.
struct PostgresCut: FaultDefinition {
    let summary = """
        Every connection between the calculator and PostgreSQL cut for --down-seconds (default 45): the calculator \
        reaches PostgreSQL through a TCP proxy of the run's own, and nftables drops every packet to and from that \
        proxy (silence, no FIN, no RST, new connections unanswered). A query in flight must fail within its \
        tcp_user_timeout (30 s) instead of hanging, /readyz must turn red, and once the network is back the calculator \
        reconnects and applies what waited in the broker, losing nothing. Needs nft and the right to change this \
        machine's packet filter (root); a command, not in CI.
        """

    var servers: FaultServers { .single }
    var defaultDownSeconds: Double { 45 }
    var proxied: ProxiedServer? { .database }

    /// See ``summary``. `/readyz` of the calculator is polled during the cut: the time it turns red is how
    /// long it took to notice the dead database.
    func inject(_ c: BlackFriday.LoadContext, _ injector: FaultInjector) async throws {
        guard let proxy = injector.proxy else { throw ScenarioError("postgres-cut needs the run's proxy") }
        try await injector.at(c, injector.load.seconds * 0.3)
        let filter = try PacketFilter.drop(port: proxy.port, table: "stockwire_cut_\(injector.stack.runId)")
        let cut = ContinuousClock.now
        await injector.note(
            "every packet to and from the calculator's PostgreSQL connections dropped (nftables, port \(proxy.port))")
        let until = cut + .milliseconds(Int(injector.settings.downSeconds * 1000))
        let red = await injector.readinessTurnsRed(.calculator, since: cut, until: until)
        try await Task.sleep(until: until)
        filter.remove()
        await injector.note(
            "network back after \(Int(injector.settings.downSeconds)) s; calculator /readyz red after "
                + (red.map { String(format: "%.1f s (%@)", $0.seconds, $0.reason) } ?? "never"))
        // tcp_user_timeout (30 s) fails a query whose data goes unacknowledged; keepalives (10 s idle, 3 × 5 s) an
        // idle connection; 5 s of slack for the readiness check and a loaded machine.
        let limit = 35.0
        guard injector.settings.downSeconds >= limit else { return }
        if (red?.seconds ?? .infinity) > limit {
            await injector.fail("the calculator did not notice the cut database within \(Int(limit)) s")
        }
    }
}
