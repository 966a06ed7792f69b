import AMQP
import Foundation
import ShopifySimulator

/// The faults of a cluster (issue #18): three RabbitMQ nodes, a PostgreSQL primary with a synchronous standby, two
/// instances of every service (`stockwire-scenario faults --fault <name> --broker-nodes 3`). Each drives
/// `deploy/local/cluster.sh`, which knows the nodes.
extension FaultInjector {
    /// SIGKILL of the node leading `calculator.events` at 40 % of the load; started again after `downSeconds`
    /// (default 10 s).
    func brokerNodeKill(_ c: BlackFriday.LoadContext) async throws {
        try await at(c, load.seconds * 0.4)
        let node = try await leaderOfEvents()
        try await cluster(["kill-node", "\(node)"])
        await injection.note("SIGKILL broker node \(node), the leader of calculator.events")
        try await Task.sleep(for: .milliseconds(Int(settings.downSeconds * 1000)))
        let started = ContinuousClock.now
        try await cluster(["start-node", "\(node)"])
        await injection.note("broker node \(node) back in the cluster (\(seconds(since: started)) s)")
    }

    /// Node leading `calculator.events` cut off from the other two at 30 % of the load for `downSeconds`
    /// (default 30 s); pause_minority pauses it once the net tick notices.
    func brokerPartition(_ c: BlackFriday.LoadContext) async throws {
        try await at(c, load.seconds * 0.3)
        let node = try await leaderOfEvents()
        try await cluster(["partition", "\(node)"])
        let cut = ContinuousClock.now
        await injection.note("broker node \(node), the leader of calculator.events, cut off from the other two")
        let paused = try? await cluster(["await-node", "\(node)", "paused", "\(Int(settings.downSeconds))"])
        if paused != nil { await injection.note("node \(node) paused itself (pause_minority) after \(seconds(since: cut)) s") }
        let left = settings.downSeconds - Self.elapsed(since: cut)
        if left > 0 { try await Task.sleep(for: .milliseconds(Int(left * 1000))) }
        try await cluster(["heal"])
        let healed = ContinuousClock.now
        await injection.note("partition healed after \(seconds(since: cut)) s")
        try await cluster(["await-node", "\(node)", "member", "120"])
        await injection.note("node \(node) back in the cluster (\(seconds(since: healed)) s after the heal)")
    }

    /// The three nodes restarted one after another from 20 % of the load, each waiting until no quorum queue
    /// would lose its majority (as an upgrade does).
    func rollingRestart(_ c: BlackFriday.LoadContext) async throws {
        try await at(c, load.seconds * 0.2)
        for node in 1...3 {
            let started = ContinuousClock.now
            try await cluster(["restart-node", "\(node)"])
            await injection.note("broker node \(node) restarted and back in the cluster (\(seconds(since: started)) s)")
        }
    }

    /// SIGKILL of the PostgreSQL primary at 40 % of the load, the standby promoted; the calculators follow through
    /// their multi-host conninfo (`target_session_attrs=read-write`). The old primary rejoins as a standby after the
    /// load (the fault's end), so the next run has its synchronous standby again.
    func postgresFailover(_ c: BlackFriday.LoadContext) async throws {
        try await at(c, load.seconds * 0.4)
        let before = try await cluster(["pg-status"])
        try await cluster(["pg-kill-primary"])
        let killed = ContinuousClock.now
        await injection.note("SIGKILL of the PostgreSQL primary (\(before))")
        let port = try await cluster(["pg-promote"])
        await injection.note("standby promoted, accepting writes on port \(port) (\(seconds(since: killed)) s after the kill)")
        try await at(c, load.seconds)
        let rejoin = ContinuousClock.now
        try await cluster(["pg-rejoin"])
        await injection.note("old primary rebuilt as the synchronous standby (\(seconds(since: rejoin)) s): \(try await cluster(["pg-status"]))")
    }

    /// SIGKILL of instance 1 of ingest, the calculator and the exporter in turn (`killEverySeconds` apart), each
    /// started again after `downSeconds`: the other instance carries the load meanwhile.
    func instanceKill(_ c: BlackFriday.LoadContext) async throws {
        for (i, service) in [Stack.Service.ingest, .calculator, .exporter].enumerated() {
            try await at(c, killTime(i))
            try await stack.kill9(service, instance: 1)
            await injection.note("SIGKILL \(service.rawValue) instance 1 (instance 2 runs on)")
            try await Task.sleep(for: .milliseconds(Int(settings.downSeconds * 1000)))
            try await stack.restart(service, instance: 1)
            await injection.restarted(service)
        }
    }

    // MARK: Helpers

    /// The node leading `calculator.events` in the run's virtual host.
    private func leaderOfEvents() async throws -> Int {
        let out = try await cluster(["leader", "calculator.events", virtualHost])
        guard let node = out.split(separator: " ").first.flatMap({ Int($0) }) else {
            throw ScenarioError("deploy/local/cluster.sh leader calculator.events: unexpected answer '\(out)'")
        }
        return node
    }

    /// `deploy/local/cluster.sh args`, off the cooperative pool; its last line of output.
    @discardableResult
    func cluster(_ args: [String]) async throws -> String {
        let stack = stack
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<String, any Error>) in
            DispatchQueue.global().async {
                do {
                    let out = try stack.server("cluster", args)
                    continuation.resume(returning: out.split(separator: "\n").last.map(String.init) ?? "")
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }
}

extension Array where Element == WebhookDeliveryRecord {
    /// How long webhooks were refused (an answer other than 2xx, or none), as the sum of the 100 ms windows in which
    /// an attempt failed; nil when none failed. A sender that retries sees no longer an outage than this.
    var refusedSeconds: (total: Double, first: Date, last: Date)? {
        let failed = compactMap { r -> Date? in
            guard r.outcome != "dropped", !(r.status.map { (200..<300).contains($0) } ?? false) else { return nil }
            return Timestamp.parsePrecise(r.time)
        }
        guard let first = failed.min(), let last = failed.max() else { return nil }
        let windows = Set(failed.map { Int(($0.timeIntervalSince1970 * 10).rounded(.down)) })
        return (Double(windows.count) / 10, first, last)
    }
}

/// The local cluster a cluster fault runs on (deploy/local): started once, its URLs taken into this process's
/// environment, where the stack, the broker admin and the checker read them.
enum ClusterServers {
    static let arguments = ["--broker-nodes", "3", "--postgres-standby"]

    /// `servers.sh start --broker-nodes 3 --postgres-standby`, then `cluster.sh urls`: sets STOCKWIRE_AMQP_URL (the
    /// three nodes) and STOCKWIRE_POSTGRES (both servers, `target_session_attrs=read-write`).
    static func start(repository: String) throws {
        // The pair's primary takes the single PostgreSQL's port: stop that one if these scripts run it.
        if (try? run("\(repository)/deploy/local/postgres-pair.sh", ["status"])) == nil,
            (try? run("\(repository)/deploy/local/postgres.sh", ["status"])) != nil
        {
            print("• stopping the single PostgreSQL (deploy/local/postgres.sh stop): the pair takes its port")
            _ = try? run("\(repository)/deploy/local/postgres.sh", ["stop"])
        }
        print("• starting the local cluster (deploy/local/servers.sh start \(arguments.joined(separator: " ")))")
        _ = try run("\(repository)/deploy/local/servers.sh", ["start"] + arguments)
        let urls = try run("\(repository)/deploy/local/cluster.sh", ["urls"])
        var found: [String: String] = [:]
        for line in urls.split(separator: "\n") {
            // export NAME='value'
            guard line.hasPrefix("export "), let eq = line.firstIndex(of: "=") else { continue }
            let name = String(line[line.index(line.startIndex, offsetBy: 7)..<eq])
            var value = String(line[line.index(after: eq)...])
            if value.hasPrefix("'"), value.hasSuffix("'"), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            found[name] = value
        }
        for name in ["STOCKWIRE_AMQP_URL", "STOCKWIRE_POSTGRES"] {
            guard let value = found[name] else { throw ScenarioError("deploy/local/cluster.sh urls printed no \(name):\n\(urls)") }
            setenv(name, value, 1)
        }
        print("• cluster: \((try? AMQPConfiguration(url: found["STOCKWIRE_AMQP_URL"]!).redactedURL) ?? "?")")
    }

    private static func run(_ script: String, _ args: [String]) throws -> String {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("stockwire-cluster-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: log) }
        return try Stack.runScript(script, args, log: log)
    }
}
