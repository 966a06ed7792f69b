import Contracts
import Foundation
import Postgres
import ScenarioReports
import ShopifySimulator
import Toolbox

/// Everything a scenario runs on: the local servers (through `deploy/local`), a fresh database, the simulator
/// and the three services as release-built processes; all stopped again by ``stop()``, also after a failure.
final class Stack: @unchecked Sendable {
    // @unchecked: mutated only by the scenario's single task (start, run, stop in sequence) — or, during a fault
    // run, by its one fault injector (Stack+Faults), which alone kills and restarts services while the load runs —
    // and read by the Ctrl-C handler, which only calls stop(); stop() is guarded by `stopped` under `lock`.
    struct Options {
        var shops: Int
        var plan: RateLimitPlan
        var buildDirectory: String
        var repository: String
        var ingestPort = 18080
        var portBase = 19100
        var logLevel = "warning"
        var exporterLingerMs = 2
        var calculatorLingerMs = 2
        /// False for the interval baseline: no exporter runs, the scenario writes the shops itself.
        var startExporter = true
        /// Webhook delivery faults switched on from the start (duplicates, reordering).
        var webhookFaults = WebhookFaults()
        /// The services' broker URL (`STOCKWIRE_AMQP_URL`); nil: the stack creates a virtual host of the run's own
        /// (``start(log:)``) so that its queues are not shared with a concurrent run (fault runs set their own).
        var amqpURL: String? = nil
        /// The broker URL the services get instead of `amqpURL` (through a fault run's TCP proxy); the scenario's
        /// own connections keep `amqpURL`.
        var servicesAMQPURL: String? = nil
        /// The port the calculator reaches PostgreSQL on instead of the server's (a fault run's TCP proxy).
        var servicesPostgresPort: Int? = nil
        /// Factor on Shopify's webhook retry schedule (8 retries over about 4 hours); nil: the simulator's default
        /// (all eight within 24 s). Faults that keep ingest answering 503 for a minute need a longer one.
        var webhookTimeScale: Double? = nil
        /// Extra settings of the calculator (the zero-oversell guard's, say).
        var calculatorEnvironment: [String: String] = [:]
        /// The webhook topics every shop is subscribed to; nil: every topic the simulator fires. By default the ones
        /// README tells operators to subscribe: those Stockwire reads.
        var webhookTopics: Set<String>? = Set(ShopifyWebhookTopics.used)
        /// Instances of every service: ingest behind the simulator's round-robin (a load balancer), competing
        /// calculators, exporters with a single active consumer per shop. Instance `i` (from 1) listens on
        /// ``ingestPort`` + 10 × (i − 1) and ops ports ``portBase`` + 10 × (i − 1) + 2 and + 3.
        var instances = 1
        /// Extra arguments of `deploy/local/servers.sh start` (`--broker-nodes 3 --postgres-standby` for a cluster
        /// run, whose servers are left running at the end).
        var serverArguments: [String] = []
    }

    let options: Options
    let runId: String
    let work: URL
    let domains: [String]
    private(set) var simulator: Simulator?
    private(set) var database: String?
    /// The virtual host the stack created for the run (nil when `options.amqpURL` named one), deleted at the end.
    private(set) var virtualHost: String?
    /// The broker URL of the run: the scenario's own connections and (unless proxied) the services'.
    var amqpURL: String {
        options.amqpURL ?? virtualHost.map { BrokerAdmin.amqpURL(virtualHost: $0) } ?? BrokerAdmin.amqpURL(virtualHost: "/")
    }
    /// The running services; Stack+Faults replaces an entry when it kills and restarts a service.
    var processes: [(name: String, process: Process)] = []
    /// How each service instance was started (binary, arguments and environment), by process name, to start it again
    /// the same way (Stack+Faults).
    private(set) var launches: [String: (binary: String, arguments: [String], environment: [String: String])] = [:]
    private var stoppedBefore: [String] = []
    private let lock = NSLock()
    private var stopped = false
    let movementToken: String
    var ingestURL: String { ingestURL(instance: 1) }
    /// Ingest instance `i` (from 1).
    func ingestURL(instance i: Int) -> String { "http://127.0.0.1:\(options.ingestPort + 10 * (i - 1))" }
    /// The calculator's ops server (`/readyz`, `/metrics`), of instance `i`.
    func calculatorOpsURL(instance i: Int = 1) -> String { "http://127.0.0.1:\(options.portBase + 10 * (i - 1) + 2)" }
    var calculatorOpsURL: String { calculatorOpsURL() }
    /// The exporter's ops server (`/readyz`, `/metrics`), of instance `i`.
    func exporterOpsURL(instance i: Int = 1) -> String { "http://127.0.0.1:\(options.portBase + 10 * (i - 1) + 3)" }
    var exporterOpsURL: String { exporterOpsURL() }
    /// `$STOCKWIRE_POSTGRES`, or deploy/local's server.
    static var defaultAdminConninfo: String { LocalServers.postgresConninfo }
    var adminConninfo: String { Self.defaultAdminConninfo }
    /// Host and port of the PostgreSQL server (`defaultAdminConninfo`, key=value; defaults 127.0.0.1 and 5432).
    static var databaseEndpoint: (host: String, port: Int) {
        var host = "127.0.0.1", port = 5432
        for pair in defaultAdminConninfo.split(separator: " ") {
            if pair.hasPrefix("host=") { host = String(pair.dropFirst(5)) }
            if pair.hasPrefix("port="), let p = Int(pair.dropFirst(5)) { port = p }
        }
        return (host, port)
    }
    var conninfo: String { adminConninfo.replacingOccurrences(of: "dbname=stockwire", with: "dbname=\(database ?? "stockwire")") }
    /// The calculator's conninfo: the run's database, through the run's proxy when there is one.
    var servicesConninfo: String {
        guard let port = options.servicesPostgresPort else { return conninfo }
        let kept = conninfo.split(separator: " ").filter { !$0.hasPrefix("host=") && !$0.hasPrefix("port=") }
        return (["host=127.0.0.1", "port=\(port)"] + kept.map(String.init)).joined(separator: " ")
    }

    init(options: Options) throws {
        self.options = options
        self.runId = String(UUID().uuidString.prefix(8).lowercased())
        self.work = URL(fileURLWithPath: options.repository).appendingPathComponent(".local/scenario/\(runId)")
        self.domains = Self.domains(count: options.shops)
        self.movementToken = "movement-\(UUID().uuidString)"
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    }

    // MARK: - Start

    /// The simulated shops' domains: shop-a.myshopify.com, shop-b…
    static func domains(count: Int) -> [String] {
        (0..<count).map { "shop-\(Character(UnicodeScalar(97 + $0)!)).myshopify.com" }
    }

    func start(log: (String) -> Void) async throws {
        for binary in ["ingest", "calculator", "exporter"] {
            guard FileManager.default.isExecutableFile(atPath: "\(options.buildDirectory)/\(binary)") else {
                throw ScenarioError("\(options.buildDirectory)/\(binary) is missing: run `swift build -c release` first")
            }
        }
        log("starting RabbitMQ and PostgreSQL (deploy/local/servers.sh)")
        // Only a server that was stopped is ours to stop at the end (status 3); one already running, ours or
        // someone else's, stays.
        if options.serverArguments.isEmpty {
            stoppedBefore = try ["rabbitmq", "postgres"].filter { try status(of: $0) == 3 }
        }
        try run("\(options.repository)/deploy/local/servers.sh", ["start"] + options.serverArguments)

        // A virtual host of its own: two runs at once (a demo beside the tests) would otherwise consume each other's
        // events and availability messages from the same queues.
        if options.amqpURL == nil {
            let name = "stockwire-scenario-\(runId)"
            let admin = BrokerAdmin.local()
            do {
                try await admin.createVirtualHost(name)
            } catch {
                throw ScenarioError(
                    "RabbitMQ's management API (\(admin.baseURL)) did not create the run's virtual host: \(error)")
            }
            virtualHost = name
        }
        // A database of its own, so the report's consistency check reads this run's truth only.
        let admin = try await PostgresConnection.connect(adminConninfo)
        let db = "stockwire_scenario_\(runId)"
        try await admin.execute("CREATE DATABASE \(db)")
        await admin.close()
        database = db
        // With a standby listed first in a multi-host conninfo, libpq stops at its "database does not exist" (a
        // startup error ends the host list) until the standby has replayed the CREATE: wait for it.
        let deadline = ContinuousClock.now + .seconds(20)
        while true {
            if let probe = try? await PostgresConnection.connect(conninfo) {
                await probe.close()
                break
            }
            guard ContinuousClock.now < deadline else {
                throw ScenarioError("database \(db) not reachable through \(conninfo) within 20 s")
            }
            try await Task.sleep(for: .milliseconds(100))
        }

        // Secrets as files, the way an orchestrator mounts them.
        var ingestShops: [String] = []
        var exporterShops: [[String: String]] = []
        var simShops: [ShopConfiguration] = []
        for domain in domains {
            let secret = "whsec-\(UUID().uuidString)"
            let token = "shpat-\(UUID().uuidString)"
            let secretFile = try write("\(domain).webhook-secret", secret)
            let tokenFile = try write("\(domain).token", token)
            ingestShops.append("\(domain)=\(secretFile)")
            simShops.append(
                ShopConfiguration(
                    domain: domain, accessToken: token, webhookSecret: secret, plan: options.plan,
                    webhookTopics: options.webhookTopics))
            exporterShops.append(["domain": domain, "token_file": tokenFile])
        }
        let movementTokenFile = try write("movement-token", movementToken)

        let sim = try await Simulator.start(
            // Shopify delivers from many connections at once; 256 in flight keeps the simulator from being the bottleneck.
            SimulatorConfiguration(
                shops: simShops, ingestURL: "\(ingestURL)/webhooks/shopify",
                moreIngestURLs: (1..<max(1, options.instances)).map { "\(ingestURL(instance: $0 + 1))/webhooks/shopify" },
                timeScale: options.webhookTimeScale ?? SimulatorConfiguration().timeScale, webhookConcurrency: 256,
                logLevel: "error"))
        simulator = sim
        for i in exporterShops.indices { exporterShops[i]["admin_url"] = sim.adminBaseURL(shop: domains[i]) }
        let shopsFile = try write(
            "exporter-shops.json", String(decoding: try JSONSerialization.data(withJSONObject: exporterShops), as: UTF8.self))

        var common = ["STOCKWIRE_LOG_LEVEL": options.logLevel]
        common["STOCKWIRE_AMQP_URL"] = options.servicesAMQPURL ?? amqpURL
        try spawn("calculator", ["migrate"], env: common.merging(["STOCKWIRE_POSTGRES": conninfo]) { $1 }, wait: true)
        for i in 1...max(1, options.instances) {
            let offset = 10 * (i - 1)
            try spawn(
                "calculator", ["run"], instance: i,
                env: common.merging(
                    [
                        "STOCKWIRE_POSTGRES": servicesConninfo,
                        "STOCKWIRE_CALCULATOR_OPS_PORT": "\(options.portBase + offset + 2)",
                        "STOCKWIRE_CALCULATOR_LINGER_MS": "\(options.calculatorLingerMs)",
                    ].merging(options.calculatorEnvironment) { $1 }
                ) { $1 })
            try spawn(
                "ingest", [], instance: i,
                env: common.merging([
                    "STOCKWIRE_INGEST_PORT": "\(options.ingestPort + offset)",
                    "STOCKWIRE_SHOPS": ingestShops.joined(separator: ";"),
                    "STOCKWIRE_MOVEMENT_TOKEN_FILE": movementTokenFile,
                ]) { $1 })
            if options.startExporter {
                try spawn(
                    "exporter", ["run"], instance: i,
                    env: common.merging([
                        "STOCKWIRE_EXPORTER_SHOPS_FILE": shopsFile,
                        "STOCKWIRE_EXPORTER_OPS_PORT": "\(options.portBase + offset + 3)",
                        "STOCKWIRE_EXPORTER_LINGER_MS": "\(options.exporterLingerMs)",
                    ]) { $1 })
            }
        }
        sim.setWebhookFaults(options.webhookFaults)
        log("waiting for ingest, calculator\(options.startExporter ? " and exporter" : "") to be ready")
        for i in 1...max(1, options.instances) {
            try await waitReady(.ingest, instance: i, timeout: .seconds(60))
            try await waitReady(.calculator, instance: i, timeout: .seconds(60))
            if options.startExporter { try await waitReady(.exporter, instance: i, timeout: .seconds(60)) }
        }
    }

    // MARK: - Stop

    /// Stops what this run started: services (SIGTERM, then SIGKILL), simulator, its database, and the servers
    /// when they were not running before. `STOCKWIRE_SCENARIO_KEEP_DATABASE=1` keeps the database and the virtual
    /// host, for a post-mortem of a failed run (its `shop_writes`, `sku_history`, guard rows) or a rehearsal of its
    /// events (`calculator rehearse --stream --amqp-url <the printed URL>`).
    ///
    /// Returns how each service ended (the first call only; later calls return nothing): an orchestrator stops them
    /// the same way, and anything but exit status 0 within ``shutdownGrace`` is a defect (``ServiceShutdown``).
    @discardableResult
    func stop() async -> [ServiceShutdown] {
        guard
            lock.withLock({ () -> Bool in
                if stopped { return false }
                stopped = true
                return true
            })
        else { return [] }
        let shutdown = await stopServices()
        await simulator?.shutdown()
        let keep = ProcessInfo.processInfo.environment["STOCKWIRE_SCENARIO_KEEP_DATABASE"] == "1"
        if let database, keep {
            print("database \(database) kept for inspection (STOCKWIRE_SCENARIO_KEEP_DATABASE=1); drop it when done")
        } else if let database, let admin = try? await PostgresConnection.connect(adminConninfo) {
            _ = try? await admin.execute("DROP DATABASE IF EXISTS \(database) WITH (FORCE)")
            await admin.close()
        }
        if let virtualHost, keep {
            print("virtual host \(virtualHost) kept, with its event log: \(amqpURL) (delete it when done)")
        } else if let virtualHost {
            await BrokerAdmin.local().deleteVirtualHost(virtualHost)
        }
        for server in stoppedBefore { _ = try? run("\(options.repository)/deploy/local/\(server).sh", ["stop"]) }
        return shutdown
    }

    /// How long a service may take to exit after SIGTERM before it is killed (Kubernetes gives 30 s by default;
    /// a service that needs more than this at the end of a scenario is holding on to something).
    static let shutdownGrace: Duration = .seconds(10)

    /// SIGTERM to every running service (in reverse start order), then waits for each to exit; SIGKILL after
    /// ``shutdownGrace``.
    private func stopServices() async -> [ServiceShutdown] {
        let asked = ContinuousClock.now
        var outcomes: [Int: ServiceShutdown.Outcome] = [:]
        for (i, service) in processes.enumerated().reversed() {
            if service.process.isRunning {
                service.process.terminate()
            } else {
                outcomes[i] = .endedBefore(ServiceShutdown.Ending(service.process))
            }
        }
        while outcomes.count < processes.count {
            for (i, service) in processes.enumerated() where outcomes[i] == nil && !service.process.isRunning {
                outcomes[i] = .ended(ServiceShutdown.Ending(service.process), after: ContinuousClock.now - asked)
            }
            if outcomes.count == processes.count || ContinuousClock.now - asked > Self.shutdownGrace { break }
            try? await Task.sleep(for: .milliseconds(20))
        }
        for (i, service) in processes.enumerated() where outcomes[i] == nil {
            service.process.killAtOnce()
            service.process.waitUntilExit()
            outcomes[i] = .killed(after: Self.shutdownGrace)
        }
        return processes.enumerated().map { i, service in
            ServiceShutdown(name: service.name, outcome: outcomes[i]!, log: logURL(of: service.name).path)
        }
    }

    /// Where a service instance's standard output and error go (``spawn(_:_:instance:env:wait:)``), by process name.
    func logURL(of name: String, _ args: [String]? = nil) -> URL {
        let first = (args ?? launches[name]?.arguments)?.first
        return work.appendingPathComponent("\(name)\(first.map { "-\($0)" } ?? "").log")
    }

    /// The pids of the services this run started and that are still running, by name.
    var servicePIDs: [String: Int32] {
        Dictionary(processes.filter { $0.process.isRunning }.map { ($0.name, $0.process.processIdentifier) }) { a, _ in a }
    }

    /// Process CPU seconds and peak memory (from /proc) of each service, read before stopping.
    func resources() -> [String: (cpuSeconds: Double, peakMiB: Double)] {
        var out: [String: (Double, Double)] = [:]
        for (name, pid) in servicePIDs {
            let process = LinuxProcess(pid: pid)
            guard let peak = process.peakResidentKiB else { continue }
            out[name] = (process.cpuSeconds() ?? 0, Double(peak) / 1024)
        }
        // This process plays the buyers and hosts the simulator (storefront, Admin API, webhook delivery).
        let scenario = LinuxProcess.current
        out[CPUBudget.scenario] = (scenario.cpuSeconds() ?? 0, Double(scenario.peakResidentKiB ?? 0) / 1024)
        return out
    }

    // MARK: - Helpers

    private func write(_ name: String, _ content: String) throws -> String {
        let url = work.appendingPathComponent(name)
        try content.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    private func spawn(_ binary: String, _ args: [String], instance: Int = 1, env: [String: String], wait: Bool = false) throws {
        let name = instance == 1 ? binary : "\(binary)-\(instance)"
        let logFile = logURL(of: name, args)
        let p = try Process.launch(
            "\(options.buildDirectory)/\(binary)", args, environment: env, output: try FileHandle.log(at: logFile.path))
        if wait {
            p.waitUntilExit()
            guard p.terminationStatus == 0 else {
                throw ScenarioError("\(binary) \(args.joined(separator: " ")) failed, see \(logFile.path)")
            }
        } else {
            processes.append((name, p))
            launches[name] = (binary, args, env)
        }
    }

    /// `deploy/local/<server>.sh status`: 0 ours and running, 1 someone else's on the port, 3 stopped.
    private func status(of server: String) throws -> Int32 {
        let script = "\(options.repository)/deploy/local/\(server).sh"
        let p = try Process.launch("/bin/bash", [script, "status"], output: .nullDevice)
        p.waitUntilExit()
        return p.terminationStatus
    }

    /// Runs `deploy/local/<server>.sh` with `args` (a fault run crashes and starts the servers with it).
    @discardableResult
    func server(_ server: String, _ args: [String]) throws -> String {
        try run("\(options.repository)/deploy/local/\(server).sh", args)
    }

    @discardableResult
    private func run(_ script: String, _ args: [String]) throws -> String {
        let logURL = work.appendingPathComponent(
            "\(URL(fileURLWithPath: script).lastPathComponent)-\(args.joined(separator: "-")).log")
        return try Self.runScript(script, args, log: logURL)
    }

    /// Runs a bash script to its end with its output in `log` (kept), and returns that output; throws with it when the
    /// script fails. A file, not a pipe: a server the script starts in the background inherits its output, and a pipe
    /// would then never reach end-of-file while that server runs.
    static func runScript(_ script: String, _ args: [String], log logURL: URL) throws -> String {
        let handle = try FileHandle.log(at: logURL.path)
        let p = try Process.launch("/bin/bash", [script] + args, output: handle)
        p.waitUntilExit()
        try? handle.close()
        let out = (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
        guard p.terminationStatus == 0 else { throw ScenarioError("\(script) \(args.joined(separator: " ")) failed:\n\(out)") }
        return out
    }
}

/// A scenario that could not run; the message says what to do.
struct ScenarioError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension Stack {
    /// Whether every exporter queue of this run is empty with nothing unacknowledged, by the management API (its
    /// figures lag by up to 5 s, which only delays the answer: after the load the queues only drain). True when
    /// the run has no virtual host of its own to ask about.
    func exporterQueuesDrained() async throws -> Bool {
        guard let virtualHost else { return true }
        let prefix = StockwireTopology.exporterQueue(shop: "")
        return try await BrokerAdmin.local().queues(virtualHost: virtualHost).allSatisfy {
            !$0.name.hasPrefix(prefix) || ($0.messages == 0 && $0.unacknowledged == 0)
        }
    }
}
