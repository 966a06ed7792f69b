import ArgumentParser
import Contracts
import Foundation
import ShopifySimulator
import Toolbox

/// Runs Stockwire end to end on this machine against simulated Shopify shops and reports what happened.
@main
struct ScenarioCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stockwire-scenario",
        abstract: "Runs Stockwire end to end against simulated Shopify shops and reports what a merchant would see.",
        discussion: """
            Starts RabbitMQ and PostgreSQL through deploy/local (and stops them afterwards if they were not \
            running), a RabbitMQ virtual host and a database of the run's own (so concurrent runs share no \
            queue), the simulator, and the release builds of ingest, calculator and exporter; \
            runs the scenario; prints a report, writes it as JSON with charts (SVG) beside it, drawn by \
            Tools/charts/stockwire-chart with matplotlib (apt-get install python3-matplotlib; without it the run \
            says so and goes on); stops everything it started, also on Ctrl-C or failure. The services are \
            stopped with SIGTERM, as an orchestrator does: one that does not exit with status 0 within 10 s fails \
            the run (exit status 2). Service logs stay in .local/scenario/<run id>/.
            """,
        subcommands: [
            ProductDropCommand.self, IntervalBaselineCommand.self, BlackFridayCommand.self, RawLimitCommand.self,
            FaultsCommand.self,
        ],
        defaultSubcommand: ProductDropCommand.self)
}

/// What every scenario that starts the system needs.
struct StackArguments: ParsableArguments {
    @Option(help: "Simulated shops.") var shops = 2
    @Option(help: "Shopify plan of every shop: standard, advanced, plus or enterprise.") var plan = "plus"
    @Option(help: "Folder of the release binaries.") var buildDirectory = ".build/release"
    @Option(help: "Port ingest listens on; the calculator's and exporter's ops ports follow it (19600 + 4 × (port mod 100) + 2 and + 3).")
    var ingestPort = 18080
    @Option(help: "Log level of the services (their logs go to .local/scenario/<run id>/).") var logLevel = "warning"
    @Flag(
        help: ArgumentHelp(
            "Subscribe the shops to every topic the simulator fires, inventory_levels/update included.",
            discussion: "By default they are subscribed as README tells operators to: only the topics Stockwire reads."))
    var subscribeAllTopics = false
    @Option(
        help: ArgumentHelp(
            "RabbitMQ nodes: 1 (deploy/local's single servers) or 3 (the local cluster).",
            discussion: """
                3: three RabbitMQ nodes and a PostgreSQL primary with a synchronous standby, started by \
                deploy/local/servers.sh start --broker-nodes 3 --postgres-standby and left running (the single \
                PostgreSQL must be stopped: the pair takes its port), and two instances of every service.
                """))
    var brokerNodes = 1
    @Option(help: "Instances of every service (default 2 with --broker-nodes 3, else 1).") var instances: Int?

    func validate() throws {
        guard brokerNodes == 1 || brokerNodes == 3 else { throw ValidationError("--broker-nodes must be 1 or 3") }
        if let instances, !(1...4).contains(instances) { throw ValidationError("--instances must be 1…4") }
        guard shops >= 1, shops <= 26 else { throw ValidationError("--shops must be 1…26") }
        guard RateLimitPlan.preset(named: plan) != nil else {
            throw ValidationError("--plan must be standard, advanced, plus or enterprise")
        }
    }

    func options(startExporter: Bool = true, calculatorEnvironment: [String: String] = [:]) -> Stack.Options {
        let repository = FileManager.default.currentDirectoryPath
        var options = Stack.Options(
            shops: shops, plan: RateLimitPlan.preset(named: plan) ?? .plus,
            buildDirectory: URL(fileURLWithPath: buildDirectory, relativeTo: URL(fileURLWithPath: repository)).path,
            repository: repository, ingestPort: ingestPort, logLevel: logLevel)
        // The services' ops ports follow the ingest port, so that two runs with different ingest ports (a demo beside
        // the tests) do not collide; fault runs use 19200–19599, these 19600–19999.
        options.portBase = 19_600 + 4 * (ingestPort % 100)
        options.startExporter = startExporter
        options.calculatorEnvironment = calculatorEnvironment
        options.webhookTopics = subscribeAllTopics ? nil : Set(ShopifyWebhookTopics.used)
        options.instances = instances ?? (brokerNodes == 3 ? 2 : 1)
        if brokerNodes == 3 { options.serverArguments = ClusterServers.arguments }
        return options
    }

    /// Before the first stack: the local cluster started and its URLs in this process's environment (3 nodes).
    func prepareServers() throws {
        if brokerNodes == 3 { try ClusterServers.start(repository: FileManager.default.currentDirectoryPath) }
    }

    /// Starts a stack, runs `body` on it, and stops it — also on failure or Ctrl-C. A failure exits with status 2, and
    /// so does a service that does not stop cleanly on SIGTERM at the end (``ServiceShutdown``).
    func withStack<T>(
        startExporter: Bool = true, calculatorEnvironment: [String: String] = [:],
        _ body: (Stack, (String) -> Void) async throws -> T
    ) async throws -> T {
        try prepareServers()
        let stack = try Stack(options: options(startExporter: startExporter, calculatorEnvironment: calculatorEnvironment))
        let interrupt = InterruptHandler { await stack.stop() }
        defer { interrupt.cancel() }
        let log: (String) -> Void = { print("• \($0)") }
        let result: T
        do {
            try await stack.start(log: log)
            result = try await body(stack, log)
        } catch {
            print("✘ scenario failed: \(error)")
            await stack.stop()
            throw ExitCode(2)
        }
        try ServiceShutdown.require(clean: await stack.stop())
        return result
    }
}

/// Writes a report as pretty JSON.
func writeJSON(_ value: some Encodable, to path: String) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try encoder.encode(value).write(to: URL(fileURLWithPath: path))
}

/// `path` with its extension replaced by `suffix` (`/tmp/pd.json`, `-latency.svg` → `/tmp/pd-latency.svg`).
func sibling(_ path: String, _ suffix: String) -> String {
    URL(fileURLWithPath: path).deletingPathExtension().path + suffix
}

// MARK: - product-drop

struct ProductDropCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "product-drop",
        abstract: "S units of one SKU, B buyers spread over the shops at a steady rate; counts oversold units.",
        discussion: """
            With --guard-threshold N the same drop runs again with the calculator's zero-oversell guard (at or below \
            N available units the shops get shares that never add up to more than the truth). With --baseline it \
            also runs with the exporter replaced by an interval export (see interval-baseline). All runs are \
            printed side by side: sold, oversold, stranded, time to sell out. A slow trickle (few buyers over a \
            long time, e.g. --units 100 --buyers 150 --seconds 30) shows whether the guard strands stock.
            """)

    @OptionGroup var stack: StackArguments
    @Option(help: "Units of the SKU in the warehouse.") var units = 500
    @Option(help: "Buyers, spread evenly over the run.") var buyers = 5_000
    @Option(help: "Length of the drop in seconds.") var seconds = 10.0
    @Option(help: "Random seed (which shop each buyer visits).") var seed: UInt64 = 42
    @Flag(help: "Also run the interval baseline in this invocation and compare.") var baseline = false
    @Option(help: "Also run the drop with the zero-oversell guard at this threshold (0: do not).") var guardThreshold = 0
    @Option(help: "Guard run: idle seconds before a shop's surplus moves to shops that sell.") var guardRebalanceS = 2
    @Flag(help: "Run only the guard variant (needs --guard-threshold), not mirror mode first.") var guardOnly = false
    @Option(help: "Baseline only: real seconds that stand for the 15-minute interval.") var intervalSeconds = 1.5
    @Option(help: "Write the report as JSON here (charts beside it: .svg, -latency.svg; the baseline as -interval.json).")
    var json: String?

    func validate() throws {
        guard units >= 1, buyers >= 1, seconds > 0, intervalSeconds > 0 else {
            throw ValidationError("need at least 1 unit and 1 buyer, and positive durations")
        }
        guard guardThreshold >= 0, guardRebalanceS >= 1 else { throw ValidationError("--guard-threshold ≥ 0, --guard-rebalance-s ≥ 1") }
        if guardOnly, guardThreshold == 0 { throw ValidationError("--guard-only needs --guard-threshold") }
    }

    func run() async throws {
        let settings = ProductDrop.Settings(units: units, buyers: buyers, seconds: seconds, seed: seed)
        var runs: [ProductDrop.Result] = []
        if !guardOnly {
            let live = try await stack.withStack { try await ProductDrop(stack: $0, settings: settings).run(log: $1) }
            print(Report.text(live))
            if let json { try ProductDropCommand.write(live, json: json) }
            runs.append(live)
        }
        if guardThreshold > 0 {
            var guarded = settings
            guarded.guardThreshold = guardThreshold
            guarded.guardRebalanceSeconds = guardRebalanceS
            let result = try await stack.withStack(
                calculatorEnvironment: guarded.calculatorEnvironment(shops: Stack.domains(count: stack.shops))
            ) { try await ProductDrop(stack: $0, settings: guarded).run(log: $1) }
            print(Report.text(result))
            if let json { try ProductDropCommand.write(result, json: guardOnly ? json : sibling(json, "-guard.json")) }
            runs.append(result)
        }
        if runs.count > 1 { print(Report.modes(runs)) }
        var passed = runs.allSatisfy(\.consistency.passed)
        if baseline, let live = runs.first {
            var intervalSettings = settings
            intervalSettings.intervalSeconds = intervalSeconds
            let interval = try await stack.withStack(startExporter: false) {
                try await ProductDrop(stack: $0, settings: intervalSettings).run(log: $1)
            }
            print(Report.text(interval))
            print(Report.comparison(live, interval))
            if runs.count > 1 { print(Report.modes(runs + [interval])) }
            if let json { try ProductDropCommand.write(interval, json: sibling(json, "-interval.json")) }
            passed = passed && interval.consistency.passed
        }
        if !passed { throw ExitCode(1) }
    }

    /// Writes the report as JSON, then its charts beside it: the drop (`.svg`) and the latencies (`-latency.svg`).
    static func write(_ result: ProductDrop.Result, json: String) throws {
        try writeJSON(result, to: json)
        let charts = Report.drawCharts(
            [
                .init(kind: "product-drop", path: sibling(json, ".svg")),
                .init(kind: "latency", path: sibling(json, "-latency.svg")),
            ], of: json)
        print(Report.reportLine(json: json, charts: charts))
    }
}

// MARK: - interval-baseline

struct IntervalBaselineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "interval-baseline",
        abstract: "The product drop with the exporter replaced by an interval export (every 15 min, time-scaled).",
        discussion: """
            No exporter runs. The runner itself overwrites every shop's available quantity with the truth from \
            PostgreSQL once after the goods receipt and then every --interval-seconds, which stands for 15 minutes \
            of simulated time: at the default 1.5 s, time runs 600 times faster, so a 10 s drop stands for a \
            100-minute sale and each shop sells on its own stale number for up to 15 simulated minutes. Ingest and \
            calculator run as usual, so the truth and the consistency check are the real ones.
            """)

    @OptionGroup var stack: StackArguments
    @Option(help: "Units of the SKU in the warehouse.") var units = 500
    @Option(help: "Buyers, spread evenly over the run.") var buyers = 5_000
    @Option(help: "Length of the drop in seconds.") var seconds = 10.0
    @Option(help: "Random seed (which shop each buyer visits).") var seed: UInt64 = 42
    @Option(help: "Real seconds that stand for the 15-minute interval.") var intervalSeconds = 1.5
    @Option(help: "Write the report as JSON here (charts beside it).") var json: String?

    func run() async throws {
        let settings = ProductDrop.Settings(
            units: units, buyers: buyers, seconds: seconds, seed: seed, intervalSeconds: intervalSeconds)
        let result = try await stack.withStack(startExporter: false) {
            try await ProductDrop(stack: $0, settings: settings).run(log: $1)
        }
        print(Report.text(result))
        if let json { try ProductDropCommand.write(result, json: json) }
        if !result.consistency.passed { throw ExitCode(1) }
    }
}

// MARK: - black-friday

struct BlackFridayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "black-friday",
        abstract: "A constant rate of orders, edits, cancellations, refunds, receipts and shipments over many SKUs and shops.",
        discussion: """
            Events (not webhooks): each shop action fires 1–2 webhooks of the topics the shops are subscribed to, \
            which are the ones Stockwire reads (orders/create; orders/edited, orders/cancelled or refunds/create, each \
            with orders/updated), each warehouse movement one POST /stock-movements. Mix: \
            \(BlackFriday.mix.map { "\($0.0.rawValue) \(Int($0.1)) %" }.joined(separator: ", ")). SKU popularity is \
            Zipf-distributed; stock is seeded first (1.5× the expected sales per SKU). Webhook duplicates and \
            reordering are on during the load. Exits 1 when the consistency check fails.
            """)

    @OptionGroup var stack: StackArguments
    @Option(help: "Events per second.") var rate = 200.0
    @Option(help: "Seconds of load.") var seconds = 10.0
    @Option(help: "SKUs in every shop.") var skus = 500
    @Option(help: "Zipf exponent of SKU popularity.") var zipf = 1.0
    @Option(help: "Share of webhooks delivered twice (0…1).") var duplicateRate = 0.05
    @Option(help: "Webhooks are delayed by a random 0…this many ms, so they arrive reordered.") var reorderWindowMs = 50
    @Option(help: "Random seed.") var seed: UInt64 = 42
    @Option(help: "Longest wait, in seconds, for the system to go quiet and every shop to equal the truth.")
    var quietTimeout = 120.0
    @Flag(help: "Measure the raw broker limit first (as raw-limit) and print pipeline throughput / raw limit.")
    var withRawLimit = false
    @Option(help: "Seconds per raw-limit cell.") var rawSeconds = 10.0
    @Option(help: "Message size of the raw-limit cells in bytes (a typical orders/create webhook).") var bodySize = 1_700
    @Option(help: "Write the report as JSON here (the latency histogram beside it as -latency.svg).") var json: String?

    func validate() throws {
        guard rate > 0, seconds > 0, skus >= 1, zipf >= 0, (0...1).contains(duplicateRate), reorderWindowMs >= 0 else {
            throw ValidationError("need a positive rate and duration, at least 1 SKU, duplicate rate 0…1")
        }
    }

    func run() async throws {
        var raw: RawLimit.Result?
        if withRawLimit {
            raw = try await RawLimit(seconds: rawSeconds, bodySize: bodySize).run { print("• \($0)") }
        }
        let settings = BlackFriday.Settings(
            rate: rate, seconds: seconds, skus: skus, zipfExponent: zipf, duplicateRate: duplicateRate,
            reorderWindowMs: reorderWindowMs, seed: seed, quietTimeout: quietTimeout)
        var result = try await stack.withStack { try await BlackFriday(stack: $0, settings: settings).run(log: $1) }
        result.rawLimit = raw
        print(Report.text(result))
        if let json {
            try writeJSON(result, to: json)
            let charts = Report.drawCharts([.init(kind: "latency", path: sibling(json, "-latency.svg"))], of: json)
            print(Report.reportLine(json: json, charts: charts))
        }
        if !result.consistency.passed { throw ExitCode(1) }
    }
}

// MARK: - raw-limit

struct RawLimitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "raw-limit",
        abstract: "The broker's durable publish-confirm and consume-ack rate on this machine (quorum queue, window 100).",
        discussion: "Uses the running local RabbitMQ ($STOCKWIRE_AMQP_URL); the same code as amqp-bench.")

    @Option(help: "Seconds per cell (publish, then consume).") var seconds = 10.0
    @Option(help: "Message size in bytes (a typical orders/create webhook).") var bodySize = 1_700
    @Option(help: "Write the result as JSON here.") var json: String?

    func run() async throws {
        let result = try await RawLimit(seconds: seconds, bodySize: bodySize).run { print("• \($0)") }
        print(Report.text(result))
        if let json { try writeJSON(result, to: json) }
    }
}

/// Stops the stack on Ctrl-C or SIGTERM, then exits.
final class InterruptHandler {
    private let signals: TerminationSignals

    init(_ onSignal: @escaping @Sendable () async -> Void) {
        signals = TerminationSignals { _, _ in
            print("\n• interrupted: stopping everything this run started")
            Task {
                await onSignal()
                exit(130)
            }
        }
    }

    func cancel() { signals.cancel() }
}
