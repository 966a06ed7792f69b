import AMQP
import Foundation

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
            guard let value = found[name] else {
                throw ScenarioError("deploy/local/cluster.sh urls printed no \(name):\n\(urls)")
            }
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
