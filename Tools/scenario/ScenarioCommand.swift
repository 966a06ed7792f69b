import ArgumentParser
import Foundation
import ShopifySimulator

/// Runs Stockwire end to end on this machine against simulated Shopify shops and reports what happened.
@main
struct ScenarioCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stockwire-scenario",
        abstract: "Runs Stockwire end to end against simulated Shopify shops and reports what a merchant would see.",
        discussion: """
            Starts RabbitMQ and PostgreSQL through deploy/local (and stops them afterwards if they were not \
            running), a fresh database, the simulator, and the release builds of ingest, calculator and exporter; \
            runs the scenario; prints a report, writes it as JSON with a chart (SVG) beside it; stops everything \
            it started, also on Ctrl-C or failure. Service logs stay in .local/scenario/<run id>/.
            """,
        subcommands: [ProductDropCommand.self], defaultSubcommand: ProductDropCommand.self)
}

struct ProductDropCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "product-drop",
        abstract: "S units of one SKU, B buyers spread over the shops at a steady rate; counts oversold units.")

    @Option(help: "Simulated shops.") var shops = 2
    @Option(help: "Units of the SKU in the warehouse.") var units = 500
    @Option(help: "Buyers, spread evenly over the run.") var buyers = 5_000
    @Option(help: "Length of the drop in seconds.") var seconds = 10.0
    @Option(help: "Shopify plan of every shop: standard, advanced, plus or enterprise.") var plan = "plus"
    @Option(help: "Random seed (which shop each buyer visits).") var seed: UInt64 = 42
    @Option(help: "Folder of the release binaries.") var buildDirectory = ".build/release"
    @Option(help: "Write the report as JSON here (a chart is written beside it as .svg).") var json: String?
    @Option(help: "Port ingest listens on.") var ingestPort = 18080
    @Option(help: "Log level of the services (their logs go to .local/scenario/<run id>/).") var logLevel = "warning"

    func run() async throws {
        let repository = FileManager.default.currentDirectoryPath
        let planValue: RateLimitPlan
        switch plan {
        case "standard": planValue = .standard
        case "advanced": planValue = .advanced
        case "plus": planValue = .plus
        case "enterprise": planValue = .enterprise
        default: throw ValidationError("--plan must be standard, advanced, plus or enterprise")
        }
        guard shops >= 1, shops <= 26, units >= 1, buyers >= 1, seconds > 0 else {
            throw ValidationError("need 1…26 shops, at least 1 unit and 1 buyer, and a positive duration")
        }
        let stack = try Stack(
            options: .init(
                shops: shops, plan: planValue,
                buildDirectory: URL(fileURLWithPath: buildDirectory, relativeTo: URL(fileURLWithPath: repository)).path,
                repository: repository, ingestPort: ingestPort, logLevel: logLevel))
        let interrupt = InterruptHandler { await stack.stop() }
        defer { interrupt.cancel() }
        let log: (String) -> Void = { print("• \($0)") }
        let result: ProductDrop.Result
        do {
            try await stack.start(log: log)
            result = try await ProductDrop(
                stack: stack, settings: .init(units: units, buyers: buyers, seconds: seconds, seed: seed)
            ).run(log: log)
        } catch {
            print("✘ scenario failed: \(error)")
            await stack.stop()
            throw ExitCode(2)
        }
        await stack.stop()
        print(Report.text(result))
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(result).write(to: URL(fileURLWithPath: json))
            let svg = URL(fileURLWithPath: json).deletingPathExtension().appendingPathExtension("svg")
            try Report.svg(result).write(to: svg, atomically: true, encoding: .utf8)
            print("report: \(json), chart: \(svg.path)")
        }
        if !result.consistency.passed { throw ExitCode(1) }
    }
}

/// Stops the stack on Ctrl-C or SIGTERM, then exits.
final class InterruptHandler {
    private let sources: [any DispatchSourceSignal]

    init(_ onSignal: @escaping @Sendable () async -> Void) {
        var sources: [any DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                print("\n• interrupted: stopping everything this run started")
                Task {
                    await onSignal()
                    exit(130)
                }
            }
            source.resume()
            sources.append(source)
        }
        self.sources = sources
    }

    func cancel() { sources.forEach { $0.cancel() } }
}
