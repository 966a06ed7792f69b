import Foundation

/// The `rolling-restart` fault.
struct RollingRestart: FaultDefinition {
    let summary = """
        Cluster: the three nodes restarted one after another, as an upgrade does.
        """

    var servers: FaultServers { .cluster }

    /// The three nodes restarted one after another from 20 % of the load, each waiting until no quorum queue
    /// would lose its majority (as an upgrade does).
    func inject(_ c: BlackFriday.LoadContext, _ injector: FaultInjector) async throws {
        try await injector.at(c, injector.load.seconds * 0.2)
        for node in 1...3 {
            let started = ContinuousClock.now
            try await injector.cluster(["restart-node", "\(node)"])
            await injector.note("broker node \(node) restarted and back in the cluster (\(injector.seconds(since: started)) s)")
        }
    }
}
