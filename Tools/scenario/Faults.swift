import AMQP
import ArgumentParser
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NetworkFaults
import Postgres
import ShopifySimulator
import Signing
import Toolbox

/// The faults the reliability suite injects, one per run, each under a Black Friday load (RELIABILITY.md).
enum Fault: String, CaseIterable, Codable, ExpressibleByArgument, Sendable {
    /// SIGKILL the calculator repeatedly mid-batch; every second restart also dies right after its first commit,
    /// before it publishes (`STOCKWIRE_CALCULATOR_CRASH_AFTER_COMMIT`).
    case killCalculator = "kill-calculator"
    /// SIGKILL the exporter with a write in flight at Shopify, and while it coalesces a throttled backlog.
    case killExporter = "kill-exporter"
    /// SIGKILL ingest with webhooks and movements in flight; Shopify and the warehouse retry what was not 2xx.
    case killIngest = "kill-ingest"
    /// Bad messages straight into the broker (bad JSON, not an envelope, unknown SKU, absurd quantity, an
    /// unreadable availability message, an unlisted SKU) and a SKU whose every write the shop refuses.
    case poison
    /// Every webhook kind sent three times, old order snapshots after new ones, snapshots and movements again
    /// "4 hours late".
    case lateDuplicates = "late-duplicates"
    /// RabbitMQ SIGKILLed mid-load (`deploy/local/rabbitmq.sh crash`: no shutdown, as when its machine dies) and
    /// started again after `--down-seconds`: what a publish confirm promised must survive in the quorum queues,
    /// ingest answers 503 meanwhile (Shopify retries), every service reconnects and re-declares.
    case brokerCrash = "broker-crash"
    /// PostgreSQL stopped in immediate mode (`deploy/local/postgres.sh crash`) mid-load for `--down-seconds`
    /// (default 30) and started again (crash recovery): ingest keeps accepting into the broker, the calculator's
    /// batches fail without an ack and are applied once it is back.
    case postgresCrash = "postgres-crash"
    /// RabbitMQ's memory alarm raised mid-load for `--down-seconds` (default 60): publishers are blocked, ingest
    /// answers 503 quickly (probed with signed deliveries), and Shopify's retries land once after it is lifted.
    case memoryAlarm = "memory-alarm"
    /// Every connection between the services and RabbitMQ blackholed for `--down-seconds` (default 30) through a
    /// TCP proxy of the run's own: half-open connections, no FIN, no RST. Each service must notice within two
    /// heartbeats (20 s, plus 6 s of slack: its `/readyz` turns red), reconnect once the network is back, and lose
    /// nothing.
    case brokerBlackhole = "broker-blackhole"
    /// Every connection between the calculator and PostgreSQL cut for `--down-seconds` (default 45): the calculator
    /// reaches PostgreSQL through a TCP proxy of the run's own, and nftables drops every packet to and from that
    /// proxy (silence, no FIN, no RST, new connections unanswered). A query in flight must fail within its
    /// `tcp_user_timeout` (30 s) instead of hanging, `/readyz` must turn red, and once the network is back the
    /// calculator reconnects and applies what waited in the broker, losing nothing. Needs `nft` and the right to
    /// change this machine's packet filter (root); a command, not in CI.
    case postgresCut = "postgres-cut"
    /// The first shop answers 429 with `Retry-After`, then `THROTTLED`, then 5xx, then hangs, each for
    /// `--down-seconds` (default 10; give 120 for "hanging for minutes"), while the other shops stay healthy: their
    /// end-to-end latency is compared with the seconds before, the slow shop must never be called before its
    /// `Retry-After`, and the exporter's memory must stay flat.
    case slowShop = "slow-shop"
    /// A long load with a random one of the faults above every `--kill-every` seconds (default 180): a service
    /// SIGKILLed, the broker crashed, PostgreSQL down 30 s, the memory alarm for 60 s. `--seconds 3600` is the
    /// one-hour soak of RELIABILITY.md.
    case soak
    /// Cluster (`--broker-nodes 3`): SIGKILL of the broker node leading `calculator.events`, started again after
    /// `--down-seconds` (default 10); clients fail over to the other nodes, the queue elects a new leader.
    case brokerNodeKill = "broker-node-kill"
    /// Cluster: the node leading `calculator.events` cut off from the other two (nftables) for `--down-seconds`
    /// (default 30); it pauses itself (pause_minority) once the net tick notices.
    case brokerPartition = "broker-partition"
    /// Cluster: the three nodes restarted one after another, as an upgrade does.
    case rollingRestart = "rolling-restart"
    /// Cluster: SIGKILL of the PostgreSQL primary, the synchronous standby promoted; the calculators reconnect to it.
    case postgresFailover = "postgres-failover"
    /// Cluster: SIGKILL of one instance of ingest, the calculator and the exporter in turn, each started again
    /// after `--down-seconds` (default 0.5), while the second instance carries on.
    case instanceKill = "instance-kill"

    /// Whether the fault needs the local cluster (`--broker-nodes 3`): three RabbitMQ nodes, a PostgreSQL standby.
    var needsCluster: Bool {
        [.brokerNodeKill, .brokerPartition, .rollingRestart, .postgresFailover, .instanceKill].contains(self)
    }

    /// Whether the fault drives deploy/local's single servers or a proxy in front of them (not a cluster's).
    var needsSingleServers: Bool {
        [.brokerCrash, .postgresCrash, .memoryAlarm, .brokerBlackhole, .postgresCut, .soak].contains(self)
    }

    /// How long the fault keeps its part down unless `--down-seconds` says otherwise.
    var defaultDownSeconds: Double {
        switch self {
        case .postgresCrash: return 30
        case .memoryAlarm: return 60
        case .brokerCrash: return 1
        case .slowShop: return 10
        case .brokerBlackhole: return 30
        case .postgresCut: return 45
        case .brokerNodeKill: return 10
        case .brokerPartition: return 30
        default: return 0.5
        }
    }

    /// Whether ingest answers 503 for a long while: Shopify's 8 retries over about 4 hours are then scaled to
    /// 2 minutes (the default squeezes them into 24 s, which a minute's outage would exhaust).
    var needsLongRetries: Bool {
        [.brokerCrash, .memoryAlarm, .postgresCrash, .soak, .brokerBlackhole, .brokerPartition].contains(self)
    }

    /// Seconds between kills (between faults for the soak) unless `--kill-every` says otherwise.
    var defaultEvery: Double { self == .soak ? 180 : 2.5 }
}

/// One thing the injector did, for the report.
struct FaultEvent: Codable, Sendable {
    /// Seconds since the load's first event.
    var t: Double
    /// When (UTC, milliseconds), to line it up with the simulator's logs and the diagnosis timelines.
    var at: String
    var what: String
}

/// Dead letters a fault run expects: the poison it injected, nothing else.
struct ExpectedDeadLetters: Sendable {
    var calculator: Set<String> = []
    /// Exact message ids per shop.
    var exporter: [String: Set<String>] = [:]
    /// Message-id prefixes per shop (`<sku>/` of a SKU whose every availability message is refused); at least one each.
    var exporterPrefixes: [String: [String]] = [:]
}

/// What the fault injector sent, did and expects, for the checker and the report.
actor InjectionLog {
    /// Message ids the injector sent itself (webhooks it signed, movements it posted again, messages it published).
    private(set) var sent: Set<String> = []
    /// Of those, answered 2xx by ingest.
    private(set) var accepted: Set<String> = []
    private(set) var events: [FaultEvent] = []
    /// The injector could not do what the fault asks (a failure of the run, not of the system).
    private(set) var failures: [String] = []
    /// Restarts per service.
    private(set) var restarts: [String: Int] = [:]
    private(set) var expected = ExpectedDeadLetters()
    private var start = Date()

    func begin(at start: Date) { self.start = start }

    func record(_ id: String, accepted ok: Bool) {
        sent.insert(id)
        if ok { accepted.insert(id) }
    }

    func note(_ what: String) {
        let now = Date()
        let t = now.timeIntervalSince(start)
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        events.append(FaultEvent(t: (t * 100).rounded() / 100, at: f.string(from: now), what: what))
        print(String(format: "• [+%.2f s] ", t) + f.string(from: now) + " " + what)
    }

    func restarted(_ service: Stack.Service) { restarts[service.rawValue, default: 0] += 1 }

    func fail(_ what: String) {
        failures.append(what)
        note("injector failed: \(what)")
    }

    func expectCalculatorDeadLetter(_ id: String) { expected.calculator.insert(id) }
    func expectExporterDeadLetter(shop: String, id: String) { expected.exporter[shop, default: []].insert(id) }
    func expectExporterDeadLetters(shop: String, prefix: String) { expected.exporterPrefixes[shop, default: []].append(prefix) }
}

// MARK: - Command

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
    @Option(help: "The fault: \(Fault.allCases.map(\.rawValue).joined(separator: ", ")).") var fault: Fault
    @Option(help: "Kills (kill-* faults).") var kills = 4
    @Option(help: "Seconds between kills, the first after half of it (default 2.5); for soak between faults, the first after all of it (180).")
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
    @Option(help: "Webhooks are delayed by a random 0…this many ms, so they arrive reordered (default 50; 2000 for late-duplicates).")
    var reorderWindowMs: Int?
    @Option(help: "Random seed.") var seed: UInt64 = 42
    @Option(help: "Longest wait, in seconds, for quiet and convergence once the fault healed.") var quietTimeout = 60.0
    @Option(help: "First of the four ops ports (calculator +2, exporter +3); default 19200 + 4 × (ingest port mod 100).")
    var portBase: Int?
    @Option(help: "Write the report (the load's figures and the checker's) as JSON here.") var json: String?
    func validate() throws {
        if fault.needsCluster, stack.brokerNodes != 3 {
            throw ValidationError("\(fault.rawValue) needs the local cluster: add --broker-nodes 3")
        }
        if fault.needsSingleServers, stack.brokerNodes != 1 {
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
        let load = BlackFriday.Settings(
            rate: rate, seconds: seconds, skus: skus, zipfExponent: zipf, duplicateRate: duplicateRate,
            // Reordered snapshots are the point of late-duplicates: Shopify delivers unordered, seconds to hours late.
            reorderWindowMs: reorderWindowMs ?? (fault == .lateDuplicates ? 2_000 : 50), seed: seed, quietTimeout: quietTimeout)
        let settings = FaultRun.Settings(
            fault: fault, kills: kills, killEverySeconds: killEvery ?? fault.defaultEvery,
            downSeconds: downSeconds ?? fault.defaultDownSeconds)
        let virtualHost = "stockwire-faults-\(UUID().uuidString.prefix(8).lowercased())"
        try stack.prepareServers()
        let admin = BrokerAdmin.local()
        var options = stack.options()
        options.portBase = portBase ?? 19_200 + 4 * (stack.ingestPort % 100)
        options.amqpURL = BrokerAdmin.amqpURL(virtualHost: virtualHost)
        var proxy: TCPProxy?
        if fault == .brokerBlackhole {
            let broker = BrokerAdmin.amqpEndpoint
            let p = try TCPProxy(targetHost: broker.host, targetPort: broker.port)
            options.servicesAMQPURL = BrokerAdmin.amqpURL(virtualHost: virtualHost, port: p.port)
            proxy = p
        }
        if fault == .postgresCut {
            let database = Stack.databaseEndpoint
            let p = try TCPProxy(targetHost: database.host, targetPort: database.port)
            options.servicesPostgresPort = p.port
            proxy = p
        }
        defer { proxy?.stop() }
        if fault.needsLongRetries { options.webhookTimeScale = 1.0 / 120 }
        let s = try Stack(options: options)
        let interrupt = InterruptHandler {
            await s.stop()
            await admin.deleteVirtualHost(virtualHost)
        }
        defer { interrupt.cancel() }
        let log: (String) -> Void = { print("• \($0)") }
        let result: FaultRun.Result
        do {
            log("fault \(fault.rawValue): virtual host \(virtualHost), ingest port \(stack.ingestPort), ops ports \(options.portBase + 2)/\(options.portBase + 3)")
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

// MARK: - Run

/// One fault run: the Black Friday load with the injector alongside, then the checker.
struct FaultRun {
    struct Settings: Codable, Sendable {
        var fault: Fault
        var kills: Int
        var killEverySeconds: Double
        var downSeconds: Double
    }

    struct Result: Codable {
        var fault: Fault
        var settings: Settings
        var virtualHost: String
        /// What the injector did, with times since the load's first event.
        var events: [FaultEvent]
        var restarts: [String: Int]
        var load: BlackFriday.Result
        var checker: Checker.Report
    }

    let stack: Stack
    let settings: Settings
    let load: BlackFriday.Settings
    let virtualHost: String
    let admin: BrokerAdmin
    /// Between the services and the broker (`broker-blackhole` only).
    var proxy: TCPProxy? = nil

    func run(log: (String) -> Void) async throws -> Result {
        let injection = InjectionLog()
        let captured = ContextBox()
        let injector = FaultInjector(
            stack: stack, settings: settings, load: load, injection: injection, admin: admin, virtualHost: virtualHost,
            proxy: proxy)
        let tap = AvailabilityTap(amqpURL: stack.amqpURL)
        try await tap.declare()
        var blackFriday = BlackFriday(stack: stack, settings: load)
        blackFriday.injector = { context in
            await captured.set(context)
            await injection.begin(at: context.start)
            await injector.run(context)
        }
        let result = try await blackFriday.run(log: log)
        guard let context = await captured.value else { throw ScenarioError("the load never started the fault injector") }
        if let refused = stack.simulator?.webhookDeliveries().refusedSeconds {
            // What Shopify would see of the fault: how long ingest did not take its webhooks.
            await injection.note(
                String(
                    format: "webhooks refused (no 2xx) in %.1f s of the run in all (100 ms windows), from %.1f s to %.1f s",
                    refused.total, refused.first.timeIntervalSince(context.start), refused.last.timeIntervalSince(context.start)))
        } else {
            await injection.note("webhooks refused: none, every delivery attempt answered 2xx")
        }
        log("checking the history (simulator logs, PostgreSQL, broker)")
        var report = try await Checker(
            stack: stack, context: context, injection: injection, virtualHost: virtualHost, admin: admin, tap: tap
        ).run(result)
        let failures = await injection.failures
        if !failures.isEmpty {
            report.failures += failures.map { "fault injector: \($0)" }
            report.passed = false
        }
        return Result(
            fault: settings.fault, settings: settings, virtualHost: virtualHost, events: await injection.events,
            restarts: await injection.restarts, load: result, checker: report)
    }
}

/// Hands the load's context from the injector's task to the checker.
private actor ContextBox {
    var value: BlackFriday.LoadContext?
    func set(_ context: BlackFriday.LoadContext) { value = context }
}

// MARK: - Injector

/// Injects one fault while the load runs, and returns once the fault healed (every service up and ready).
struct FaultInjector: Sendable {
    let stack: Stack
    let settings: FaultRun.Settings
    let load: BlackFriday.Settings
    let injection: InjectionLog
    let admin: BrokerAdmin
    let virtualHost: String
    let proxy: TCPProxy?

    func run(_ c: BlackFriday.LoadContext) async {
        do {
            switch settings.fault {
            case .killCalculator: try await killCalculator(c)
            case .killExporter: try await killExporter(c)
            case .killIngest: try await killIngest(c)
            case .poison: try await poison(c)
            case .lateDuplicates: try await lateDuplicates(c)
            case .brokerCrash: try await brokerCrash(c)
            case .postgresCrash: try await postgresCrash(c)
            case .memoryAlarm: try await memoryAlarm(c)
            case .soak: try await soak(c)
            case .slowShop: try await slowShop(c)
            case .brokerBlackhole: try await brokerBlackhole(c)
            case .postgresCut: try await postgresCut(c)
            case .brokerNodeKill: try await brokerNodeKill(c)
            case .brokerPartition: try await brokerPartition(c)
            case .rollingRestart: try await rollingRestart(c)
            case .postgresFailover: try await postgresFailover(c)
            case .instanceKill: try await instanceKill(c)
            }
        } catch {
            await injection.fail("\(error)")
        }
        // Whatever happened, every service runs and is ready again before the wait for quiet.
        for service in Stack.Service.allCases {
            for instance in 1...max(1, stack.options.instances) {
                let name = Stack.name(service, instance: instance)
                do {
                    if stack.isRunning(service, instance: instance) {
                        try await stack.waitReady(service, instance: instance, timeout: .seconds(30))
                    } else {
                        try await stack.restart(service, instance: instance)
                        await injection.restarted(service)
                        await injection.note("\(name) was down at the end of the fault: restarted")
                    }
                } catch {
                    await injection.fail("\(name) is not running and ready after the fault: \(error)")
                }
            }
        }
        await injection.note("fault healed: every service up and ready")
    }

    /// Sleeps until `seconds` after the load's first event.
    func at(_ c: BlackFriday.LoadContext, _ seconds: Double) async throws {
        let wait = c.start.addingTimeInterval(seconds).timeIntervalSinceNow
        if wait > 0 { try await Task.sleep(for: .milliseconds(Int(wait * 1000))) }
    }

    /// When kill `i` happens.
    func killTime(_ i: Int) -> Double { settings.killEverySeconds * (Double(i) + 0.5) }

    private func restart(_ service: Stack.Service, extra: [String: String] = [:], waitReady: Bool = true) async throws {
        try await stack.restart(service, extraEnvironment: extra, waitReady: waitReady)
        await injection.restarted(service)
    }

    // MARK: kill -9

    /// SIGKILL mid-batch (once PostgreSQL shows the batch transaction open), restart; every second time the
    /// restarted instance also dies right after its first commit, before publishing (the outbox must cover it), and
    /// is restarted once more.
    private func killCalculator(_ c: BlackFriday.LoadContext) async throws {
        for i in 0..<settings.kills {
            try await at(c, killTime(i))
            try await killCalculatorOnce(crashAfterCommit: i % 2 == 1)
        }
    }

    private func killCalculatorOnce(crashAfterCommit: Bool) async throws {
        let db = try await PostgresConnection.connect(stack.conninfo)
        defer { Task { await db.close() } }
        do {
            let applied = BlackFriday.counter(await stack.metrics(stack.calculatorOpsURL), "stockwire_calculator_events_applied_total")
            // A batch is in its transaction while the calculator's connection is inside one (between statements:
            // `idle in transaction`) or runs the batch's first statement.
            let deadline = ContinuousClock.now + .seconds(3)
            var inBatch = false
            while !inBatch, ContinuousClock.now < deadline {
                let rows = try await db.query(
                    """
                    SELECT count(*)::bigint FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
                    AND (state = 'idle in transaction' OR (state = 'active' AND query LIKE 'INSERT INTO processed_messages%'))
                    """, [])
                inBatch = try rows.first?.decode(Int.self, at: 0) ?? 0 > 0
            }
            try await stack.kill9(.calculator)
            await injection.note(
                "SIGKILL calculator \(inBatch ? "inside a batch transaction" : "(no batch transaction seen within 3 s)") "
                    + "(\(Int(applied)) events applied by this instance)")
            if crashAfterCommit {
                try await restart(.calculator, extra: ["STOCKWIRE_CALCULATOR_CRASH_AFTER_COMMIT": "1"], waitReady: false)
                if try await stack.waitExit(.calculator, timeout: .seconds(20)) {
                    await injection.note("calculator killed itself right after its first commit, before publishing")
                } else {
                    try await stack.kill9(.calculator)
                    await injection.note("no batch committed within 20 s of the restart: SIGKILL")
                }
            }
            try await restart(.calculator)
            await injection.note("calculator restarted and ready")
        }
    }

    /// SIGKILL with a write in flight at Shopify (each shop answers 30 ms late, the kill comes once a mutation is
    /// admitted and unanswered), and while a throttled backlog is being coalesced; restart after `downSeconds`.
    private func killExporter(_ c: BlackFriday.LoadContext) async throws {
        for i in 0..<settings.kills {
            try await at(c, killTime(i))
            try await killExporterOnce(c, withWriteInFlight: i % 2 == 0, downSeconds: settings.downSeconds)
        }
    }

    private func killExporterOnce(_ c: BlackFriday.LoadContext, withWriteInFlight: Bool, downSeconds: Double) async throws {
        do {
            if withWriteInFlight {
                for shop in stack.domains { try await c.sim.setFaults(ShopFaults(latencyMs: 30), shop: shop) }
                let deadline = ContinuousClock.now + .seconds(3)
                var inFlight: [String] = []
                while inFlight.isEmpty, ContinuousClock.now < deadline {
                    for shop in stack.domains { inFlight += try await c.sim.idempotencyKeysInFlight(shop: shop) }
                    if inFlight.isEmpty { try await Task.sleep(for: .milliseconds(2)) }
                }
                try await stack.kill9(.exporter)
                await injection.note(
                    inFlight.isEmpty
                        ? "SIGKILL exporter (no write was in flight within 3 s)"
                        : "SIGKILL exporter with \(inFlight.count) write(s) in flight at Shopify")
            } else {
                for shop in stack.domains { try await c.sim.setFaults(ShopFaults(throttled: true), shop: shop) }
                try await Task.sleep(for: .seconds(1))
                let page = await stack.metrics(stack.exporterOpsURL)
                try await stack.kill9(.exporter)
                await injection.note(
                    "SIGKILL exporter while every shop was throttled for 1 s (\(Int(BlackFriday.counter(page, "stockwire_exporter_coalesced_total"))) "
                        + "messages coalesced by this instance)")
            }
            for shop in stack.domains { try await c.sim.setFaults(ShopFaults(), shop: shop) }
            try await Task.sleep(for: .milliseconds(Int(downSeconds * 1000)))
            try await restart(.exporter)
            await injection.note("exporter restarted and ready")
        }
    }

    /// SIGKILL with requests in flight (publishes awaiting the broker's confirm, so their senders have no answer
    /// yet); down for `downSeconds` (deliveries fail and are retried), then restart.
    private func killIngest(_ c: BlackFriday.LoadContext) async throws {
        for i in 0..<settings.kills {
            try await at(c, killTime(i))
            try await killIngestOnce(downSeconds: settings.downSeconds)
        }
    }

    private func killIngestOnce(downSeconds: Double) async throws {
        do {
            let deadline = ContinuousClock.now + .seconds(3)
            var pending = 0.0
            var page = ""
            while pending == 0, ContinuousClock.now < deadline {
                page = await stack.metrics(stack.ingestURL)
                pending = BlackFriday.counter(page, "stockwire_ingest_confirms_pending_messages")
            }
            try await stack.kill9(.ingest)
            await injection.note(
                "SIGKILL ingest with \(Int(pending)) publishes awaiting the broker's confirm "
                    + "(\(Int(BlackFriday.counter(page, "stockwire_ingest_requests_total"))) requests answered by this instance)")
            try await Task.sleep(for: .milliseconds(Int(downSeconds * 1000)))
            try await restart(.ingest)
            await injection.note("ingest restarted and ready")
        }
    }

    // MARK: Servers

    /// `deploy/local/<server>.sh args`, off the cooperative pool (a start blocks for seconds).
    private func server(_ name: String, _ args: [String]) async throws {
        let stack = stack
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            DispatchQueue.global().async {
                do {
                    try stack.server(name, args)
                    continuation.resume()
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    /// SIGKILL of the broker at 40 % of the load, started again after `downSeconds`.
    private func brokerCrash(_ c: BlackFriday.LoadContext) async throws {
        try await at(c, load.seconds * 0.4)
        try await brokerCrashOnce(downSeconds: settings.downSeconds)
    }

    private func brokerCrashOnce(downSeconds: Double) async throws {
        let page = await stack.metrics(stack.ingestURL)
        try await server("rabbitmq", ["crash"])
        await injection.note(
            "SIGKILL RabbitMQ with \(Int(BlackFriday.counter(page, "stockwire_ingest_confirms_pending_messages"))) publishes "
                + "awaiting its confirm at ingest")
        try await Task.sleep(for: .milliseconds(Int(downSeconds * 1000)))
        let started = ContinuousClock.now
        try await server("rabbitmq", ["start"])
        await injection.note("RabbitMQ started again (\(seconds(since: started)) s to boot)")
    }

    /// PostgreSQL stopped in immediate mode at 30 % of the load, started again after `downSeconds`.
    private func postgresCrash(_ c: BlackFriday.LoadContext) async throws {
        try await at(c, load.seconds * 0.3)
        try await postgresCrashOnce(downSeconds: settings.downSeconds)
    }

    private func postgresCrashOnce(downSeconds: Double) async throws {
        try await server("postgres", ["crash"])
        await injection.note("PostgreSQL stopped in immediate mode (no checkpoint, every client cut off)")
        try await Task.sleep(for: .milliseconds(Int(downSeconds * 1000)))
        let started = ContinuousClock.now
        try await server("postgres", ["start"])
        await injection.note("PostgreSQL started again after crash recovery (\(seconds(since: started)) s)")
    }

    /// The memory alarm at 30 % of the load for `downSeconds`; meanwhile signed deliveries probe how fast ingest
    /// answers (a current order snapshot: applied, it changes nothing).
    private func memoryAlarm(_ c: BlackFriday.LoadContext) async throws {
        try await at(c, load.seconds * 0.3)
        try await memoryAlarmOnce(c, downSeconds: settings.downSeconds)
    }

    private func memoryAlarmOnce(_ c: BlackFriday.LoadContext, downSeconds: Double) async throws {
        var secrets: [String: String] = [:]
        for shop in stack.domains { secrets[shop] = try stack.webhookSecret(shop: shop) }
        let sender = InjectedSender(ingestURL: stack.ingestURL, movementToken: stack.movementToken, secrets: secrets, log: injection)
        try await server("rabbitmqctl", ["set_vm_memory_high_watermark", "0"])
        await injection.note("RabbitMQ memory alarm raised (watermark 0): every publisher blocked")
        let until = ContinuousClock.now + .milliseconds(Int(downSeconds * 1000))
        var answers: [Int: Int] = [:]
        var slowest = 0.0
        let shop = stack.domains[0]
        try await Task.sleep(for: .seconds(1))
        while ContinuousClock.now < until {
            if let order = try await c.sim.orders(shop: shop).first {
                let (status, took) = await sender.timed(shop: shop, topic: "orders/updated", body: try Self.json(order), triggeredAt: Date())
                answers[status ?? 0, default: 0] += 1
                slowest = max(slowest, took)
            }
            try await Task.sleep(for: .milliseconds(500))
        }
        let refused = answers.filter { $0.key == 503 }.values.reduce(0, +)
        let total = answers.values.reduce(0, +)
        await injection.note(
            "during the alarm: \(refused) of \(total) probe deliveries answered 503, slowest answer "
                + String(format: "%.0f ms", slowest * 1000) + " (answers: \(answers.sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }.joined(separator: ", ")))")
        if total == 0 || refused < total {
            await injection.fail("ingest did not answer every delivery during the memory alarm with 503: \(answers)")
        } else if slowest > 1 {
            await injection.fail(String(format: "ingest took %.1f s to answer 503 during the memory alarm (limit 1 s)", slowest))
        }
        try await server("rabbitmqctl", ["set_vm_memory_high_watermark", "0.4"])
        await injection.note("memory alarm lifted (watermark 0.4, deploy/local's setting)")
    }

    /// Polls `service`'s `/readyz` every 200 ms until it answers anything but 200 (or does not answer) or `until`
    /// passes. Returns the seconds since `cut` that took and the reason it gave, or nil when it stayed ready.
    private static func readinessTurnsRed(
        _ service: Stack.Service, of stack: Stack, since cut: ContinuousClock.Instant, until: ContinuousClock.Instant
    ) async -> (seconds: Double, reason: String)? {
        while ContinuousClock.now < until {
            do {
                let (status, body) = try await HTTP.get(stack.readyURL(service))
                if status != 200 { return (elapsed(since: cut), body.trimmingCharacters(in: .whitespacesAndNewlines)) }
            } catch {
                return (elapsed(since: cut), "no answer: \(error)")
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
        return nil
    }

    /// Seconds elapsed since `start`.
    static func elapsed(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    func seconds(since start: ContinuousClock.Instant) -> String {
        String(format: "%.1f", Self.elapsed(since: start))
    }

    // MARK: A network cut

    /// Blackholes the services' broker connections at 30 % of the load for `downSeconds`, then heals. Each service's
    /// `/readyz` is polled meanwhile: the time it turns red is how long its dead-peer detection took. (The proxy
    /// cannot always see a service give up: a connection with unsent data queued behind a zero window sends its
    /// FIN only once the window opens, as on a real cut.)
    private func brokerBlackhole(_ c: BlackFriday.LoadContext) async throws {
        guard let proxy else { throw ScenarioError("broker-blackhole needs the run's proxy") }
        try await at(c, load.seconds * 0.3)
        let openAtCut = proxy.figures.open
        let cut = ContinuousClock.now
        proxy.blackhole()
        await injection.note("every connection between the services and RabbitMQ blackholed (\(openAtCut) open): no FIN, no RST")
        let until = cut + .milliseconds(Int(settings.downSeconds * 1000))
        let detected = await withTaskGroup(of: (Stack.Service, Double?).self) { group in
            for service in Stack.Service.allCases {
                group.addTask {
                    (service, await Self.readinessTurnsRed(service, of: stack, since: cut, until: until)?.seconds)
                }
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
        await injection.note(
            "network back after \(Int(settings.downSeconds)) s; /readyz red after: \(detection.joined(separator: ", ")); "
                + "RabbitMQ gave up on \(servers.count) connections after \(servers.map { String(format: "%.1f s", $0) }.joined(separator: ", ")); "
                + "\(attempts) reconnection attempts during the cut timed out")
        // Two heartbeats of 10 s, plus 6 s: ingest is red only once all its publishing connections noticed, and
        // one blocked in a send to the silent peer notices only when that send fails (measured 20–24 s; RabbitMQ
        // itself gives up on the other end after about 27 s).
        let limit = 26.0
        guard settings.downSeconds >= limit else { return }
        for service in Stack.Service.allCases {
            guard let seconds = detected[service] ?? nil, seconds <= limit else {
                await injection.fail("\(service.rawValue) did not notice the dead broker within \(Int(limit)) s")
                continue
            }
        }
    }

    /// See ``Fault/postgresCut``. `/readyz` of the calculator is polled during the cut: the time it turns red is how
    /// long it took to notice the dead database.
    private func postgresCut(_ c: BlackFriday.LoadContext) async throws {
        guard let proxy else { throw ScenarioError("postgres-cut needs the run's proxy") }
        try await at(c, load.seconds * 0.3)
        let filter = try PacketFilter.drop(port: proxy.port, table: "stockwire_cut_\(stack.runId)")
        let cut = ContinuousClock.now
        await injection.note("every packet to and from the calculator's PostgreSQL connections dropped (nftables, port \(proxy.port))")
        let until = cut + .milliseconds(Int(settings.downSeconds * 1000))
        let red = await Self.readinessTurnsRed(.calculator, of: stack, since: cut, until: until)
        try await Task.sleep(until: until)
        filter.remove()
        await injection.note(
            "network back after \(Int(settings.downSeconds)) s; calculator /readyz red after "
                + (red.map { String(format: "%.1f s (%@)", $0.seconds, $0.reason) } ?? "never"))
        // tcp_user_timeout (30 s) fails a query whose data goes unacknowledged; keepalives (10 s idle, 3 × 5 s) an
        // idle connection; 5 s of slack for the readiness check and a loaded machine.
        let limit = 35.0
        guard settings.downSeconds >= limit else { return }
        if (red?.seconds ?? .infinity) > limit {
            await injection.fail("the calculator did not notice the cut database within \(Int(limit)) s")
        }
    }

    // MARK: A slow shop

    /// The first shop misbehaves in four phases while the others are healthy (see ``Fault/slowShop``).
    private func slowShop(_ c: BlackFriday.LoadContext) async throws {
        let slow = stack.domains[0]
        let healthy = Set(stack.domains.dropFirst())
        guard !healthy.isEmpty else { throw ScenarioError("slow-shop needs at least 2 shops") }
        let metric = "stockwire_exporter_end_to_end_seconds"
        func latency(_ page: String) -> LatencyHistogram? {
            let lines = page.split(separator: "\n").filter { line in healthy.contains { line.contains("shop=\"\($0)\"") } }
            return LatencyHistogram.parse(lines.joined(separator: "\n"), metric: metric)
        }
        func p99(_ h: LatencyHistogram?) -> Double? { h.flatMap { $0.count > 0 ? $0.quantile(0.99)?.estimateMs : nil } }
        // The baseline: the healthy shops' writes from 15 % to 30 % of the load (after the seeding's backlog).
        try await at(c, load.seconds * 0.15)
        let start = await stack.metrics(stack.exporterOpsURL)
        try await at(c, load.seconds * 0.3)
        let before = await stack.metrics(stack.exporterOpsURL)
        let rssBefore = residentKiB(.exporter)
        var rssPeak = rssBefore
        let firstLogged = (await c.sim.writeLog(shop: slow).last?.sequence ?? 0)
        let phases: [(String, ShopFaults)] = [
            ("429 with Retry-After", ShopFaults(throttled: true, throttle429: true)),
            ("THROTTLED", ShopFaults(throttled: true)),
            ("502/503 on every call", ShopFaults(errorRate: 1)),
            ("hanging", ShopFaults(hang: true)),
        ]
        for (name, faults) in phases {
            try await c.sim.setFaults(faults, shop: slow)
            await injection.note("\(slow): \(name) for \(Int(settings.downSeconds)) s")
            let until = ContinuousClock.now + .milliseconds(Int(settings.downSeconds * 1000))
            while ContinuousClock.now < until {
                try await Task.sleep(for: .milliseconds(500))
                rssPeak = max(rssPeak, residentKiB(.exporter))
            }
        }
        try await c.sim.setFaults(ShopFaults(), shop: slow)
        let during = await stack.metrics(stack.exporterOpsURL)
        let baseline = latency(before)?.subtracting(latency(start))
        let faulted = latency(during)?.subtracting(latency(before))
        let p99Before = p99(baseline)
        let p99During = p99(faulted)
        func ms(_ v: Double?) -> String { v.map { String(format: "%.0f ms", $0) } ?? "–" }
        await injection.note(
            "\(slow) healthy again; the other shops' end-to-end p99 \(ms(p99Before)) before (\(baseline?.count ?? 0) writes), "
                + "\(ms(p99During)) during (\(faulted?.count ?? 0) writes); exporter resident memory \(rssBefore / 1024) MiB before, "
                + "peak \(rssPeak / 1024) MiB")
        if let b = p99Before, let d = p99During, d > 2 * b + 100 {
            await injection.fail("the healthy shops' p99 went from \(ms(b)) to \(ms(d)) while \(slow) misbehaved")
        }
        if (faulted?.count ?? 0) == 0 { await injection.fail("the healthy shops were not written while \(slow) misbehaved") }
        if rssPeak > rssBefore + 64 * 1024 {
            await injection.fail("the exporter grew from \(rssBefore / 1024) to \(rssPeak / 1024) MiB while \(slow) misbehaved")
        }
        // Never called before Retry-After: each call after a 429 comes at least its Retry-After later.
        let calls = await c.sim.writeLog(shop: slow, since: firstLogged)
        let parse = ISO8601DateFormatter()
        parse.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var early: [String] = []
        var answered429 = 0
        for (call, next) in zip(calls, calls.dropFirst()) {
            guard call.httpStatus == 429, let wait = call.retryAfter else { continue }
            answered429 += 1
            guard let t0 = parse.date(from: call.time), let t1 = parse.date(from: next.time) else { continue }
            if t1.timeIntervalSince(t0) < Double(wait) - 0.05 {
                early.append(String(format: "%@ +%.2f s after Retry-After: %d", next.time, t1.timeIntervalSince(t0), wait))
            }
        }
        await injection.note("\(answered429) answers 429 with Retry-After; calls before it had passed: \(early.count)")
        if answered429 == 0 { await injection.fail("\(slow) never answered 429: the exporter did not call it while throttled") }
        if !early.isEmpty { await injection.fail("\(slow) was called before its Retry-After: \(early.prefix(3))") }
    }

    /// The resident memory of a service in KiB (0 when it is not running).
    private func residentKiB(_ service: Stack.Service) -> Int {
        stack.process(service).flatMap { LinuxProcess(pid: $0.processIdentifier).residentKiB } ?? 0
    }

    // MARK: Soak

    /// A random fault every `killEverySeconds` while the load runs, each with its own default down time.
    private func soak(_ c: BlackFriday.LoadContext) async throws {
        var rng = SplitMix64(seed: load.seed &+ 99)
        let kinds: [Fault] = [.killCalculator, .killExporter, .killIngest, .brokerCrash, .postgresCrash, .memoryAlarm]
        var n = 0
        while settings.killEverySeconds * Double(n + 1) < load.seconds {
            try await at(c, settings.killEverySeconds * Double(n + 1))
            let fault = kinds[rng.below(kinds.count)]
            n += 1
            await injection.note("soak fault \(n): \(fault.rawValue)")
            switch fault {
            case .killCalculator: try await killCalculatorOnce(crashAfterCommit: rng.below(2) == 1)
            case .killExporter: try await killExporterOnce(c, withWriteInFlight: rng.below(2) == 0, downSeconds: fault.defaultDownSeconds)
            case .killIngest: try await killIngestOnce(downSeconds: fault.defaultDownSeconds)
            case .brokerCrash: try await brokerCrashOnce(downSeconds: fault.defaultDownSeconds)
            case .postgresCrash: try await postgresCrashOnce(downSeconds: fault.defaultDownSeconds)
            case .memoryAlarm: try await memoryAlarmOnce(c, downSeconds: fault.defaultDownSeconds)
            default: break
            }
        }
        await injection.note("soak: \(n) faults injected")
    }

    // MARK: Poison

    /// Poison into the calculator's input and into a shop's queue, and a SKU shop A refuses every write of; the
    /// calculator is restarted if it dies (as an orchestrator would), until the poison has been dead-lettered.
    private func poison(_ c: BlackFriday.LoadContext) async throws {
        let shop = stack.domains[0]
        let run = stack.runId
        let queue = "exporter.\(shop)"

        // A SKU shop A stocks only at a second location, which the exporter does not write: Shopify refuses every
        // write of it (ITEM_NOT_STOCKED_AT_LOCATION), the other shops do not list it.
        let refused = "PX-\(run)-refused"
        let location = try await c.sim.addLocation(shop: shop, name: "Second store")
        try await c.sim.createVariant(shop: shop, sku: refused, available: 0, locationID: location, title: "Refused")
        let registered = try await pollUntil(seconds: 20, every: .milliseconds(200)) { try await stack.truths(prefix: refused)[refused] != nil }
        guard registered else { throw ScenarioError("the calculator did not register \(refused) within 20 s") }
        try await c.warehouse.send([Movement(id: "px-\(run)-refused-receipt", sku: refused, kind: "receipt", quantity: 5)])
        await injection.expectExporterDeadLetters(shop: shop, prefix: "\(refused)/")
        await injection.note("\(refused): stocked in \(shop) at a location the exporter does not write; 5 units received")

        let amqp = try scenarioConnection(stack.amqpURL, purpose: "poison")
        defer { Task { await amqp.close() } }
        try await amqp.waitUntilConnected(timeout: .seconds(10))
        try await at(c, load.seconds * 0.3)

        // Straight to the events exchange, as if ingest had accepted them.
        func envelope(source: String, topic: String, delivery: String, shop: String?) -> [String: AMQPValue] {
            var h: [String: AMQPValue] = [
                "x-schema-version": .int64(1), "source": .string(source), "topic": .string(topic),
                "delivery-id": .string(delivery), "received-at-ms": .int64(Int64(Date().timeIntervalSince1970 * 1000)),
            ]
            if let shop { h["shop"] = .string(shop) }
            return h
        }
        let badJSON = "px-\(run)-bad-json"
        let notEnvelope = "px-\(run)-not-an-envelope"
        let unknownSku = "px-\(run)-unknown-sku"
        let absurd = "px-\(run)-absurd-quantity"
        let absurdOrder = """
            {"id":\(Int64(1) << 60),"updated_at":"2030-01-01T00:00:00Z","cancelled_at":null,"line_items":[{"id":\(Int64(1) << 60),\
            "sku":"\(c.skus[0])","quantity":\(Int64.max),"current_quantity":\(Int64.max)}]}
            """
        let events: [(id: String, key: String, body: String, headers: [String: AMQPValue], what: String)] = [
            ("\(shop)/\(badJSON)", "shopify.orders.create", "{\"id\": 1, \"line_items\": [",
             envelope(source: "shopify", topic: "orders/create", delivery: badJSON, shop: shop), "an orders/create that is not JSON"),
            (notEnvelope, "shopify.orders.create", "\u{1}\u{2} not an event", [:], "a message without the event headers"),
            ("warehouse/\(unknownSku)", "warehouse.receipt",
             #"{"movement_id":"\#(unknownSku)","sku":"PX-\#(run)-unknown","kind":"receipt","quantity":3}"#,
             envelope(source: "warehouse", topic: "receipt", delivery: unknownSku, shop: nil), "a receipt of an unknown SKU"),
            ("\(shop)/\(absurd)", "shopify.orders.create", absurdOrder,
             envelope(source: "shopify", topic: "orders/create", delivery: absurd, shop: shop),
             "an order of \(Int64.max) units of \(c.skus[0]), the busiest SKU"),
        ]
        for e in events {
            try await amqp.publish(
                AMQPMessage(
                    exchange: "stockwire.events", routingKey: e.key, body: Array(e.body.utf8),
                    properties: AMQPProperties(
                        contentType: "application/json", messageId: e.id, type: "stockwire.event", headers: e.headers)),
                timeout: .seconds(10))
            await injection.record(e.id, accepted: false)
            await injection.expectCalculatorDeadLetter(e.id)
            await injection.note("published to stockwire.events: \(e.what)")
        }

        // Straight to shop A's queue: an availability message that is not JSON (dead-lettered), and one of a SKU the
        // shop does not list (skipped and acknowledged, not dead-lettered).
        let badAvailability = "px-\(run)-availability-bad-json"
        let unlisted = "px-\(run)-availability-unlisted"
        let unlistedBody =
            #"{"available":4,"causes":["px"],"computed_at_ms":\#(Int64(Date().timeIntervalSince1970 * 1000)),"on_hand":4,"#
            + #""reserved":0,"schema_version":1,"sku":"PX-\#(run)-unlisted","version":1}"#
        for (id, body, what) in [
            (badAvailability, "{\"sku\": ", "an availability message that is not JSON"),
            (unlisted, unlistedBody, "an availability message of a SKU the shop does not list"),
        ] {
            try await amqp.publish(
                AMQPMessage(
                    exchange: "", routingKey: queue, body: Array(body.utf8),
                    properties: AMQPProperties(
                        contentType: "application/json", messageId: id, type: "stockwire.availability",
                        headers: ["x-schema-version": .int64(1)])),
                timeout: .seconds(10))
            await injection.note("published to \(queue): \(what)")
        }
        await injection.expectExporterDeadLetter(shop: shop, id: badAvailability)

        // Supervise the calculator as an orchestrator would (a crashed pod is started again, without waiting for it
        // to be ready) until the load is over and the poison is in the dead-letter queues.
        let wanted = await injection.expected.calculator.count
        let deadline = c.start.addingTimeInterval(load.seconds + 30)
        var crashes = 0
        while Date() < deadline {
            if !stack.isRunning(.calculator) {
                crashes += 1
                await injection.note(
                    "calculator exited with status \(stack.process(.calculator)?.terminationStatus ?? -1) (crash \(crashes)): restarting")
                try await restart(.calculator, waitReady: false)
            }
            let queues = try await admin.queues(virtualHost: virtualHost)
            let calculatorDead = queues.first { $0.name == "dead.calculator.events" }?.messages ?? 0
            let exporterDead = queues.first { $0.name == "dead.\(queue)" }?.messages ?? 0
            if Date() > c.start.addingTimeInterval(load.seconds), calculatorDead >= wanted, exporterDead >= 2 {
                await injection.note("dead letters: \(calculatorDead) of the calculator, \(exporterDead) of \(shop)")
                return
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        await injection.note("the poison was not all dead-lettered within 30 s of the load's end")
    }

    // MARK: Late and duplicate deliveries

    /// While the load runs: current order snapshots and refunds sent three times (one webhook id twice, as a
    /// Shopify retry, and a second id, as a Shopify duplicate), first-seen snapshots sent again after the order
    /// changed (reordered), accepted movements posted three times. After the load: snapshots stamped 4 hours
    /// earlier (a retry at the end of Shopify's schedule) and the seed receipts posted again. Each must apply once
    /// and roll nothing back.
    ///
    /// Every copy carries the `X-Shopify-Triggered-At` its original could have had: the moment just before the
    /// snapshot was read (no later change of the order can be older, no earlier one newer), so a copy never
    /// outranks a newer snapshot nor is outranked by an older one — as Shopify's own duplicates and retries.
    private func lateDuplicates(_ c: BlackFriday.LoadContext) async throws {
        var secrets: [String: String] = [:]
        for shop in stack.domains { secrets[shop] = try stack.webhookSecret(shop: shop) }
        let sender = InjectedSender(ingestURL: stack.ingestURL, movementToken: stack.movementToken, secrets: secrets, log: injection)
        var rng = SplitMix64(seed: load.seed &+ 7)
        var firstSeen: [String: (order: Order, readAt: Date)] = [:]
        var resentRefunds = Set<Int64>()
        var counts = (snapshots: 0, reordered: 0, refunds: 0, movements: 0)
        let end = c.start.addingTimeInterval(load.seconds)
        try await at(c, 0.5)
        while Date() < end {
            for shop in stack.domains {
                let readAt = Date()
                let orders = try await c.sim.orders(shop: shop)
                for o in orders where firstSeen["\(shop)/\(o.id)"] == nil { firstSeen["\(shop)/\(o.id)"] = (o, readAt) }
                guard !orders.isEmpty else { continue }
                for _ in 0..<2 {
                    let o = orders[rng.below(orders.count)]
                    await sender.threeTimes(shop: shop, topic: "orders/updated", body: try Self.json(o), triggeredAt: readAt)
                    counts.snapshots += 1
                }
                let changed = orders.filter { o in firstSeen["\(shop)/\(o.id)"].map { $0.order != o } ?? false }
                for _ in 0..<min(2, changed.count) {
                    let old = firstSeen["\(shop)/\(changed[rng.below(changed.count)].id)"]!
                    await sender.once(shop: shop, topic: "orders/updated", body: try Self.json(old.order), triggeredAt: old.readAt)
                    counts.reordered += 1
                }
                if let refund = orders.flatMap(\.refunds).first(where: { !resentRefunds.contains($0.id) }) {
                    resentRefunds.insert(refund.id)
                    await sender.threeTimes(shop: shop, topic: "refunds/create", body: try Self.json(refund), triggeredAt: readAt)
                    counts.refunds += 1
                }
            }
            let movements = await c.warehouse.accepted
            for _ in 0..<2 where !movements.isEmpty {
                let m = movements[rng.below(movements.count)]
                for _ in 0..<3 { await sender.post(m) }
                counts.movements += 1
            }
            try await Task.sleep(for: .milliseconds(500))
        }
        await injection.note(
            "during the load: \(counts.snapshots) current snapshots ×3, \(counts.reordered) first-seen snapshots after newer ones, "
                + "\(counts.refunds) refunds ×3, \(counts.movements) movements ×3")

        // 4 hours late: snapshots stamped 4 hours earlier than they were, each delivered twice with one webhook id;
        // the first receipts of the run posted again.
        var late = 0
        for shop in stack.domains {
            let orders = try await c.sim.orders(shop: shop)
            for o in orders.prefix(10) {
                guard var (old, readAt) = firstSeen["\(shop)/\(o.id)"], let stamp = Self.parseREST(old.updatedAt) else { continue }
                old.updatedAt = Self.formatREST(stamp.addingTimeInterval(-4 * 3600))
                readAt.addTimeInterval(-4 * 3600)
                await sender.twiceOneId(shop: shop, topic: "orders/updated", body: try Self.json(old), triggeredAt: readAt)
                late += 1
            }
        }
        let seeds = await c.warehouse.accepted.prefix(5)
        for m in seeds { await sender.post(m) }
        await injection.note("after the load: \(late) snapshots 4 hours late (twice each), \(seeds.count) seed receipts again")
    }

    /// A webhook body as Shopify sends it (the REST resource).
    static func json(_ value: some Encodable) throws -> Data { try JSONEncoder().encode(value) }

    /// A REST timestamp (`2026-05-15T10:20:30-04:00`) as a date.
    static func parseREST(_ text: String) -> Date? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.date(from: text)
    }

    /// A date as a REST timestamp (UTC, whole seconds).
    static func formatREST(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: date)
    }

}

/// Sends webhooks (signed with the shop's secret, Shopify's headers) and movements the way their senders retry
/// them, and records each id and answer in the injection log.
struct InjectedSender: Sendable {
    let ingestURL: String
    let movementToken: String
    let secrets: [String: String]
    let log: InjectionLog

    /// `X-Shopify-Triggered-At` as Shopify writes it (UTC, milliseconds).
    private func stamp(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: date)
    }

    /// One webhook id twice (a retry), then a second id with the same event id (a duplicate).
    func threeTimes(shop: String, topic: String, body: Data, triggeredAt: Date) async {
        let event = UUID().uuidString.lowercased()
        let first = UUID().uuidString.lowercased()
        for id in [first, first, UUID().uuidString.lowercased()] {
            await webhook(shop: shop, topic: topic, body: body, webhookId: id, eventId: event, triggeredAt: stamp(triggeredAt))
        }
    }

    func once(shop: String, topic: String, body: Data, triggeredAt: Date) async {
        await webhook(
            shop: shop, topic: topic, body: body, webhookId: UUID().uuidString.lowercased(), eventId: UUID().uuidString.lowercased(),
            triggeredAt: stamp(triggeredAt))
    }

    func twiceOneId(shop: String, topic: String, body: Data, triggeredAt: Date) async {
        let id = UUID().uuidString.lowercased()
        let event = UUID().uuidString.lowercased()
        for _ in 0..<2 { await webhook(shop: shop, topic: topic, body: body, webhookId: id, eventId: event, triggeredAt: stamp(triggeredAt)) }
    }

    /// One delivery; its answer's status (nil: no answer) and how long it took.
    func timed(shop: String, topic: String, body: Data, triggeredAt: Date) async -> (status: Int?, seconds: Double) {
        let started = Date()
        let status = await webhook(
            shop: shop, topic: topic, body: body, webhookId: UUID().uuidString.lowercased(), eventId: UUID().uuidString.lowercased(),
            triggeredAt: stamp(triggeredAt))
        return (status, Date().timeIntervalSince(started))
    }

    @discardableResult
    private func webhook(shop: String, topic: String, body: Data, webhookId: String, eventId: String, triggeredAt: String) async -> Int? {
        let bytes = [UInt8](body)
        var request = HTTPClientRequest(url: "\(ingestURL)/webhooks/shopify")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "X-Shopify-Topic", value: topic)
        request.headers.add(name: "X-Shopify-Hmac-Sha256", value: WebhookSignature.sign(body: bytes, secret: Array((secrets[shop] ?? "").utf8)))
        request.headers.add(name: "X-Shopify-Shop-Domain", value: shop)
        request.headers.add(name: "X-Shopify-API-Version", value: "2026-10")
        request.headers.add(name: "X-Shopify-Webhook-Id", value: webhookId)
        request.headers.add(name: "X-Shopify-Event-Id", value: eventId)
        request.headers.add(name: "X-Shopify-Triggered-At", value: triggeredAt)
        request.body = .bytes(ByteBuffer(bytes: bytes))
        var status: Int?
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
            _ = try? await response.body.collect(upTo: 64 * 1024)
            status = Int(response.status.code)
        } catch {}
        await log.record("\(shop)/\(webhookId)", accepted: status.map { (200..<300).contains($0) } ?? false)
        return status
    }

    /// Posts a movement again, with its id.
    func post(_ movement: Movement) async {
        guard let body = try? JSONEncoder().encode(movement) else { return }
        let status = try? await HTTP.post("\(ingestURL)/stock-movements", json: [UInt8](body), bearer: movementToken).0
        await log.record("warehouse/\(movement.movementId)", accepted: status.map { (200..<300).contains($0) } ?? false)
    }
}
