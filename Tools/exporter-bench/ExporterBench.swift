import ArgumentParser
import Contracts
import Foundation
import ShopifySimulator
import Toolbox

/// `exporter-bench`: quantities the real exporter writes per second per shop at the Standard and Plus rate-limit
/// presets, and its CPU per thousand quantities.
@main
struct ExporterBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exporter-bench",
        abstract: "Quantities written per second per shop by the real exporter, and its CPU per 1,000 quantities.",
        discussion: """
            Per preset: starts the Shopify simulator in this process (shops on that plan, SKU variants created), \
            runs the release `exporter run` as a child process against it and the broker, publishes every SKU \
            once and waits until every shop shows it (warm-up: SKU lookups and level reads), then publishes \
            availability changes for all SKUs as fast as the broker confirms them (--window publishes in flight) \
            for --ramp seconds (to spend the shop's cost bucket down to its steady state) and measures for \
            --seconds: applied inventorySetQuantities calls and their quantities in the simulator's write log, \
            THROTTLED answers, and the exporter's user+system CPU from /proc/<pid>/stat.

            The load goes through an exchange of the run's own, bound to the bench shops' queues exporter.<shop>, \
            not through stockwire.availability: that exchange fans out to every shop queue on the broker, including \
            other people's. Queues and the exchange are deleted afterwards.

            --reconcile N measures one reconciliation round instead of the load: after the warm-up (and the \
            exporter's read-backs of it), N SKUs per shop are set by hand in the simulator, every SKU is published \
            once at the version written, flagged as the calculator's hourly round is, and the run reports per shop \
            the Admin API reads, writes and points the round cost, the exporter's CPU, and the seconds until every \
            drifted level was repaired and until the round was through.

            Build: swift build -c release --product exporter && swift build -c release --product exporter-bench
            """)

    @Option(help: "Presets to run, comma-separated: standard, advanced, plus, enterprise.")
    var presets: String = "standard,plus"

    @Option(help: "Shops per preset (each gets every change).")
    var shops: Int = 1

    @Option(help: "SKUs changing (each round publishes each once).")
    var skus: Int = 2_000

    @Option(help: "Publishes awaiting their confirm at a time.")
    var window: Int = 200

    @Option(help: "Seconds of full load before measuring.")
    var ramp: Int = 25

    @Option(help: "Seconds measured.")
    var seconds: Int = 30

    @Option(help: "RabbitMQ URL (env STOCKWIRE_AMQP_URL; default amqp://guest:guest@127.0.0.1:5672/).")
    var amqpURL: String?

    @Option(help: "The exporter executable (default: `exporter` next to this executable).")
    var exporterBinary: String?

    @Option(help: "Measure one reconciliation round with this many SKUs per shop set by hand, instead of the load.")
    var reconcile: Int?

    func validate() throws {
        guard shops >= 1, skus >= 1, window >= 1, seconds >= 1, ramp >= 0 else {
            throw ValidationError("--shops, --skus, --window and --seconds must be at least 1, --ramp at least 0")
        }
        if let reconcile, reconcile < 0 { throw ValidationError("--reconcile must be 0 or more") }
        for name in presetNames where RateLimitPlan.preset(named: name) == nil {
            throw ValidationError("unknown preset '\(name)' (standard, advanced, plus, enterprise)")
        }
    }

    private var presetNames: [String] {
        presets.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
    }

    func run() async throws {
        let decoded = try AvailabilityMessage.decode(LoadPublisher.body(sku: "check", round: 7))
        precondition(decoded.version == 7 && decoded.available == 7, "the bench's hand-written JSON is a valid message")
        let binary =
            exporterBinary
            ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("exporter")
            .path
        let url = amqpURL ?? LocalServers.amqpURL
        var results: [BenchScenario.Result] = []
        var reconciliations: [BenchScenario.ReconcileResult] = []
        for name in presetNames {
            let scenario = BenchScenario(
                planName: name, plan: RateLimitPlan.preset(named: name)!, shops: shops, skus: skus, window: window,
                ramp: .seconds(ramp), measure: .seconds(seconds), amqpURL: url, exporterBinary: binary,
                workDirectory: FileManager.default.temporaryDirectory)
            let log: @Sendable (String) -> Void = { line in FileHandle.standardError.write(Data("\(line)\n".utf8)) }
            if let reconcile {
                reconciliations.append(try await scenario.runReconcile(drift: min(reconcile, skus), log: log))
            } else {
                results.append(try await scenario.run(log: log))
            }
        }
        print(reconcile == nil ? Self.table(results) : Self.table(reconciliations))
    }

    static func table(_ results: [BenchScenario.ReconcileResult]) -> String {
        var lines = [
            "| preset | SKUs | shops | drifted per shop | reads per shop | writes per shop | points per shop | exporter CPU s (all shops) | repaired after s | round took s | warm-up s |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in results {
            let cells = [
                r.planName, fmt(Double(r.skus), 0), "\(r.shops)", fmt(Double(r.drifted), 0), fmt(Double(r.reads), 0),
                fmt(Double(r.writes), 0), fmt(r.points, 0), fmt(r.exporterCPUSeconds, 2), fmt(r.repairSeconds, 1),
                fmt(r.roundSeconds, 1), fmt(r.warmUpSeconds, 1),
            ]
            lines.append("| " + cells.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n")
    }

    static func table(_ results: [BenchScenario.Result]) -> String {
        var lines = [
            "| preset | bucket | SKUs | shop | seconds | writes/s | quantities/s | quantities/write | throttled | ceiling q/s | published msg/s | backlog at end | exporter CPU s | CPU s per 1k quantities | warm-up s |",
            "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in results {
            let totalQuantities = r.shops.reduce(0) { $0 + $1.quantities }
            let cpuPerThousand = totalQuantities > 0 ? r.exporterCPUSeconds / Double(totalQuantities) * 1000 : .nan
            // inventorySetQuantities costs 10 points and carries at most 250 quantities.
            let ceiling = r.plan.restoreRate / 10 * 250
            for (i, s) in r.shops.enumerated() {
                let cells: [String] = [
                    r.planName, "\(fmt(r.plan.restoreRate, 0))/s, \(fmt(r.plan.maximumAvailable, 0))", fmt(Double(r.skus), 0),
                    "\(i)", fmt(s.seconds, 1), fmt(Double(s.writes) / s.seconds, 1), fmt(Double(s.quantities) / s.seconds, 0),
                    s.writes > 0 ? fmt(Double(s.quantities) / Double(s.writes), 0) : "-", "\(s.throttled)", fmt(ceiling, 0),
                    i == 0 ? fmt(Double(r.published) / r.seconds, 0) : "", i == 0 ? fmt(Double(r.backlogAtEnd), 0) : "",
                    i == 0 ? fmt(r.exporterCPUSeconds, 2) : "", i == 0 ? fmt(cpuPerThousand, 3) : "",
                    i == 0 ? fmt(r.warmUpSeconds, 1) : "",
                ]
                lines.append("| " + cells.joined(separator: " | ") + " |")
            }
        }
        return lines.joined(separator: "\n")
    }

    static func fmt(_ value: Double, _ decimals: Int) -> String {
        guard value.isFinite else { return "-" }
        let text = String(format: "%.\(decimals)f", value)
        let parts = text.split(separator: ".", maxSplits: 1)
        var whole = String(parts[0])
        let sign = whole.hasPrefix("-") ? "-" : ""
        if !sign.isEmpty { whole.removeFirst() }
        var grouped = ""
        for (i, digit) in whole.reversed().enumerated() {
            if i > 0 && i % 3 == 0 { grouped.append(",") }
            grouped.append(digit)
        }
        return sign + String(grouped.reversed()) + (parts.count > 1 ? "." + parts[1] : "")
    }
}
