import ArgumentParser
import Foundation
import NetworkFaults
import ScenarioReports

/// `stockwire-scenario faults`: one fault (``Fault``) injected under a Black Friday load, then the checker.
struct FaultsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "faults",
        abstract: "A Black Friday load with one fault injected, then the checker (lost, duplicated, stale, accounting).",
        discussion: """
            Faults: \(Fault.allCases.map(\.rawValue).joined(separator: ", ")) (see RELIABILITY.md). The run gets a \
            RabbitMQ virtual host of its own (created through the management API on $STOCKWIRE_MGMT_PORT, default \
            15672, deleted at the end) and ops ports from --port-base, so it shares nothing with a concurrent run. \
            Once the fault healed and the system is quiet, the checker computes lost, duplicated and unexpected \
            events, rolled-back orders, stale writes, oversold units, the dead-letter accounting and the time to \
            converge, prints them and writes them into the JSON report. Exits 1 when the checker fails, 2 when the \
            run itself broke or a service did not stop cleanly on SIGTERM at the end.
            """)

    @OptionGroup var stack: StackArguments
    @Option(help: "The fault, one of these (RELIABILITY.md says more):") var fault: Fault
    @Option(help: "Kills (kill-* faults).") var kills = 4
    @Option(
        help:
            "Seconds between kills, the first after half of it (default 2.5); for soak between faults, the first after all of it (180)."
    )
    var killEvery: Double?
    @Option(
        help: """
            Seconds the fault keeps its part down: a killed exporter or ingest before its restart (default 0.5), the \
            crashed broker before its start (1), PostgreSQL (30), the memory alarm (60).
            """)
    var downSeconds: Double?
    @Option(help: "Events per second.") var rate = 100.0
    @Option(help: "Seconds of load.") var seconds = 10.0
    @Option(help: "SKUs in every shop.") var skus = 100
    @Option(help: "Zipf exponent of SKU popularity.") var zipf = 1.0
    @Option(help: "Share of webhooks the simulator delivers twice (0…1).") var duplicateRate = 0.05
    @Option(
        help: "Webhooks are delayed by a random 0…this many ms, so they arrive reordered (default 50; 2000 for late-duplicates).")
    var reorderWindowMs: Int?
    @Option(help: "Random seed.") var seed: UInt64 = 42
    @Option(help: "Longest wait, in seconds, for quiet and convergence once the fault healed.") var quietTimeout = 60.0
    @Option(help: "First of the four ops ports (calculator +2, exporter +3); default 19200 + 4 × (ingest port mod 100).")
    var portBase: Int?
    @Option(help: "Write the report (the load's figures and the checker's) as JSON here.") var json: String?
    func validate() throws {
        let definition = fault.definition
        if definition.servers == .cluster, stack.brokerNodes != 3 {
            throw ValidationError("\(fault.rawValue) needs the local cluster: add --broker-nodes 3")
        }
        if definition.servers == .single, stack.brokerNodes != 1 {
            throw ValidationError("\(fault.rawValue) drives deploy/local's single servers: leave out --broker-nodes")
        }
        guard rate > 0, seconds > 0, skus >= 1, kills >= 0, (killEvery ?? 1) > 0, (downSeconds ?? 0) >= 0, quietTimeout > 0 else {
            throw ValidationError("need a positive rate, duration, kill interval and quiet timeout, at least 1 SKU")
        }
        guard (0...1).contains(duplicateRate), (reorderWindowMs ?? 0) >= 0 else {
            throw ValidationError("duplicate rate must be 0…1, the reorder window ≥ 0")
        }
    }

    func run() async throws {
        let definition = fault.definition
        let load = BlackFriday.Settings(
            rate: rate, seconds: seconds, skus: skus, zipfExponent: zipf, duplicateRate: duplicateRate,
            reorderWindowMs: reorderWindowMs ?? definition.defaultReorderWindowMs, seed: seed, quietTimeout: quietTimeout)
        let settings = FaultRun.Settings(
            fault: fault, kills: kills, killEverySeconds: killEvery ?? definition.defaultEvery,
            downSeconds: downSeconds ?? definition.defaultDownSeconds)
        let virtualHost = "stockwire-faults-\(UUID().uuidString.prefix(8).lowercased())"
        try stack.prepareServers()
        let admin = BrokerAdmin.local()
        var options = stack.options()
        options.portBase = portBase ?? 19_200 + 4 * (stack.ingestPort % 100)
        options.amqpURL = BrokerAdmin.amqpURL(virtualHost: virtualHost)
        var proxy: TCPProxy?
        switch definition.proxied {
        case .broker?:
            let broker = BrokerAdmin.amqpEndpoint
            let p = try TCPProxy(targetHost: broker.host, targetPort: broker.port)
            options.servicesAMQPURL = BrokerAdmin.amqpURL(virtualHost: virtualHost, port: p.port)
            proxy = p
        case .database?:
            let database = Stack.databaseEndpoint
            let p = try TCPProxy(targetHost: database.host, targetPort: database.port)
            options.servicesPostgresPort = p.port
            proxy = p
        case nil:
            break
        }
        defer { proxy?.stop() }
        if definition.needsLongRetries { options.webhookTimeScale = 1.0 / 120 }
        let s = try Stack(options: options)
        let interrupt = InterruptHandler {
            await s.stop()
            await admin.deleteVirtualHost(virtualHost)
        }
        defer { interrupt.cancel() }
        let log: (String) -> Void = { print("• \($0)") }
        let result: FaultRun.Result
        do {
            log(
                "fault \(fault.rawValue): virtual host \(virtualHost), ingest port \(stack.ingestPort), ops ports \(options.portBase + 2)/\(options.portBase + 3)"
            )
            do {
                try await admin.createVirtualHost(virtualHost)
            } catch {
                throw ScenarioError(
                    "RabbitMQ's management API (\(admin.baseURL)) did not create the run's virtual host: \(error); "
                        + "is the broker running (deploy/local/servers.sh start)?")
            }
            try await s.start(log: log)
            result = try await FaultRun(
                stack: s, settings: settings, load: load, virtualHost: virtualHost, admin: admin, proxy: proxy
            ).run(log: log)
        } catch {
            print("✘ scenario failed: \(error)")
            await s.stop()
            await admin.deleteVirtualHost(virtualHost)
            throw ExitCode(2)
        }
        let shutdown = await s.stop()
        await admin.deleteVirtualHost(virtualHost)
        try ServiceShutdown.require(clean: shutdown)
        print(Report.text(result))
        if let json {
            try writeJSON(result, to: json)
            print("report: \(json)")
        }
        if !result.checker.passed { throw ExitCode(1) }
    }
}
