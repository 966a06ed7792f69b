import Foundation

/// The `broker-partition` fault.
struct BrokerPartition: FaultDefinition {
    let summary = """
        Cluster: the node leading calculator.events cut off from the other two (nftables) for --down-seconds (default \
        30); it pauses itself (pause_minority) once the net tick notices.
        """

    var servers: FaultServers { .cluster }
    var defaultDownSeconds: Double { 30 }
    var needsLongRetries: Bool { true }

    /// Node leading `calculator.events` cut off from the other two at 30 % of the load for `downSeconds`
    /// (default 30 s); pause_minority pauses it once the net tick notices.
    func inject(_ c: BlackFriday.LoadContext, _ injector: FaultInjector) async throws {
        try await injector.at(c, injector.load.seconds * 0.3)
        let node = try await injector.leaderOfEvents()
        try await injector.cluster(["partition", "\(node)"])
        let cut = ContinuousClock.now
        await injector.note("broker node \(node), the leader of calculator.events, cut off from the other two")
        let paused = try? await injector.cluster(["await-node", "\(node)", "paused", "\(Int(injector.settings.downSeconds))"])
        if paused != nil {
            await injector.note("node \(node) paused itself (pause_minority) after \(injector.seconds(since: cut)) s")
        }
        let left = injector.settings.downSeconds - FaultInjector.elapsed(since: cut)
        if left > 0 { try await Task.sleep(for: .milliseconds(Int(left * 1000))) }
        try await injector.cluster(["heal"])
        let healed = ContinuousClock.now
        await injector.note("partition healed after \(injector.seconds(since: cut)) s")
        try await injector.cluster(["await-node", "\(node)", "member", "120"])
        await injector.note("node \(node) back in the cluster (\(injector.seconds(since: healed)) s after the heal)")
    }
}
