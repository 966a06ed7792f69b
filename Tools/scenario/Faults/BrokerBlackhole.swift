import Foundation

/// The `broker-blackhole` fault.
struct BrokerBlackhole: FaultDefinition {
    let summary = """
        Every connection between the services and RabbitMQ blackholed for --down-seconds (default 30) through a TCP \
        proxy of the run's own: half-open connections, no FIN, no RST. Each service must notice within two heartbeats \
        (20 s, plus 6 s of slack: its /readyz turns red), reconnect once the network is back, and lose nothing.
        """

    var servers: FaultServers { .single }
    var defaultDownSeconds: Double { 30 }
    var needsLongRetries: Bool { true }
    var proxied: ProxiedServer? { .broker }

    /// Blackholes the services' broker connections at 30 % of the load for `downSeconds`, then heals. Each service's
    /// `/readyz` is polled meanwhile: the time it turns red is how long its dead-peer detection took. (The proxy
    /// cannot always see a service give up: a connection with unsent data queued behind a zero window sends its
    /// FIN only once the window opens, as on a real cut.)
    func inject(_ c: BlackFriday.LoadContext, _ injector: FaultInjector) async throws {
        guard let proxy = injector.proxy else { throw ScenarioError("broker-blackhole needs the run's proxy") }
        try await injector.at(c, injector.load.seconds * 0.3)
        let openAtCut = proxy.figures.open
        let cut = ContinuousClock.now
        proxy.blackhole()
        await injector.note("every connection between the services and RabbitMQ blackholed (\(openAtCut) open): no FIN, no RST")
        let until = cut + .milliseconds(Int(injector.settings.downSeconds * 1000))
        let detected = await withTaskGroup(of: (Stack.Service, Double?).self) { group in
            for service in Stack.Service.allCases {
                group.addTask { (service, await injector.readinessTurnsRed(service, since: cut, until: until)?.seconds) }
            }
            var out: [Stack.Service: Double?] = [:]
            for await (service, seconds) in group { out[service] = seconds }
            return out
        }
        try await Task.sleep(until: until)
        let gaveUp = proxy.figures.gaveUp
        proxy.heal()
        let servers = gaveUp.filter { $0.side == "server" && $0.openAtCut }.map(\.afterSeconds).sorted()
        let attempts = gaveUp.filter { $0.side == "client" && !$0.openAtCut }.count
        let detection = Stack.Service.allCases.map { service in
            "\(service.rawValue) " + ((detected[service] ?? nil).map { String(format: "%.1f s", $0) } ?? "never")
        }
        await injector.note(
            "network back after \(Int(injector.settings.downSeconds)) s; /readyz red after: \(detection.joined(separator: ", ")); "
                + "RabbitMQ gave up on \(servers.count) connections after \(servers.map { String(format: "%.1f s", $0) }.joined(separator: ", ")); "
                + "\(attempts) reconnection attempts during the cut timed out")
        // Two heartbeats of 10 s, plus 6 s: ingest is red only once all its publishing connections noticed, and
        // one blocked in a send to the silent peer notices only when that send fails (measured 20–24 s; RabbitMQ
        // itself gives up on the other end after about 27 s).
        let limit = 26.0
        guard injector.settings.downSeconds >= limit else { return }
        for service in Stack.Service.allCases {
            guard let seconds = detected[service] ?? nil, seconds <= limit else {
                await injector.fail("\(service.rawValue) did not notice the dead broker within \(Int(limit)) s")
                continue
            }
        }
    }
}
