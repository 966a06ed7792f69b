import Foundation

/// The `broker-node-kill` fault.
struct BrokerNodeKill: FaultDefinition {
    let summary = """
        Cluster (--broker-nodes 3): SIGKILL of the broker node leading calculator.events, started again after \
        --down-seconds (default 10); clients fail over to the other nodes, the queue elects a new leader.
        """

    var servers: FaultServers { .cluster }
    var defaultDownSeconds: Double { 10 }

    /// SIGKILL of the node leading `calculator.events` at 40 % of the load; started again after `downSeconds`
    /// (default 10 s).
    func inject(_ c: BlackFriday.LoadContext, _ injector: FaultInjector) async throws {
        try await injector.at(c, injector.load.seconds * 0.4)
        let node = try await injector.leaderOfEvents()
        try await injector.cluster(["kill-node", "\(node)"])
        await injector.note("SIGKILL broker node \(node), the leader of calculator.events")
        try await Task.sleep(for: .milliseconds(Int(injector.settings.downSeconds * 1000)))
        let started = ContinuousClock.now
        try await injector.cluster(["start-node", "\(node)"])
        await injector.note("broker node \(node) back in the cluster (\(injector.seconds(since: started)) s)")
    }
}
