import Foundation

/// The `postgres-failover` fault.
struct PostgresFailover: FaultDefinition {
    let summary = """
        Cluster: SIGKILL of the PostgreSQL primary, the synchronous standby promoted; the calculators reconnect to it.
        """

    var servers: FaultServers { .cluster }

    /// SIGKILL of the PostgreSQL primary at 40 % of the load, the standby promoted; the calculators follow through
    /// their multi-host conninfo (`target_session_attrs=read-write`). The old primary rejoins as a standby after the
    /// load (the fault's end), so the next run has its synchronous standby again.
    func inject(_ c: BlackFriday.LoadContext, _ injector: FaultInjector) async throws {
        try await injector.at(c, injector.load.seconds * 0.4)
        let before = try await injector.cluster(["pg-status"])
        try await injector.cluster(["pg-kill-primary"])
        let killed = ContinuousClock.now
        await injector.note("SIGKILL of the PostgreSQL primary (\(before))")
        let port = try await injector.cluster(["pg-promote"])
        await injector.note(
            "standby promoted, accepting writes on port \(port) (\(injector.seconds(since: killed)) s after the kill)")
        try await injector.at(c, injector.load.seconds)
        let rejoin = ContinuousClock.now
        try await injector.cluster(["pg-rejoin"])
        await injector.note(
            "old primary rebuilt as the synchronous standby (\(injector.seconds(since: rejoin)) s): \(try await injector.cluster(["pg-status"]))"
        )
    }
}
