import ArgumentParser
import Foundation
import ShopifySimulator
import Toolbox

/// `shopify-sim`: serves simulated Shopify shops on one loopback port (see Tools/ShopifySimulator/README.md).
@main
struct ShopifySim: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shopify-sim",
        abstract: "A Shopify simulator: Admin GraphQL, storefront, signed webhooks, fault injection.",
        subcommands: [Serve.self],
        defaultSubcommand: Serve.self)
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the configured shops until SIGINT or SIGTERM.",
        discussion: """
            Shops come from --config (JSON, see README) and/or --shop; flags override the file.
            Admin API: POST http://127.0.0.1:<port>/shops/<domain>/admin/api/<version>/graphql.json
            Control API: http://127.0.0.1:<port>/_control/
            On start, one line 'shopify-sim listening on http://<host>:<port>' is printed to stdout.
            """)

    @Option(name: .long, help: "JSON configuration file (host, port, shops, ingestURL, timeScale, …).")
    var config: String?

    @Option(name: .long, help: "Address to bind (default 127.0.0.1).")
    var host: String?

    @Option(name: .long, help: "Port to bind; 0 picks a free port (default 0).")
    var port: Int?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "A shop: domain:token:webhookSecret[:plan[:locationId]]; plan is standard, advanced, plus, enterprise or <restore>/<max>. Repeatable.",
            valueName: "spec"))
    var shop: [String] = []

    @Option(name: .long, help: "URL that receives every shop's webhooks (none when absent).")
    var ingestURL: String?

    @Option(name: .long, help: "Factor on Shopify's 4-hour webhook retry schedule (default 0.001667: first retry after 100 ms; 1 = real time).")
    var timeScale: Double?

    @Option(name: .long, help: "Webhook delivery attempts in flight at once (default 32).")
    var webhookConcurrency: Int?

    @Option(name: .long, help: "Longest a request is held by the hang fault, in seconds (default 600).")
    var maxHangSeconds: Double?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical (default warning).")
    var logLevel: String?

    func run() async throws {
        var configuration = try config.map(SimulatorConfiguration.load(contentsOf:)) ?? SimulatorConfiguration()
        if let host { configuration.host = host }
        if let port { configuration.port = port }
        if let ingestURL { configuration.ingestURL = ingestURL }
        if let timeScale { configuration.timeScale = timeScale }
        if let webhookConcurrency { configuration.webhookConcurrency = webhookConcurrency }
        if let maxHangSeconds { configuration.maxHangSeconds = maxHangSeconds }
        if let logLevel { configuration.logLevel = logLevel }
        for spec in shop {
            let shop = try Self.parseShop(spec)
            configuration.shops.removeAll { $0.domain == shop.domain }
            configuration.shops.append(shop)
        }
        let simulator = try await Simulator.start(configuration)
        print("shopify-sim listening on \(simulator.baseURL)")
        fflush(nil)
        await Self.waitForTermination()
        await simulator.shutdown()
    }

    static func parseShop(_ spec: String) throws -> ShopConfiguration {
        let parts = spec.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 3, parts.count <= 5 else {
            throw ValidationError("--shop \(spec): expected domain:token:webhookSecret[:plan[:locationId]]")
        }
        var plan = RateLimitPlan.standard
        if parts.count >= 4, !parts[3].isEmpty {
            if let preset = RateLimitPlan.preset(named: parts[3]) {
                plan = preset
            } else {
                let numbers = parts[3].split(separator: "/").compactMap { Double($0) }
                guard numbers.count == 2 else {
                    throw ValidationError("--shop \(spec): plan must be standard, advanced, plus, enterprise or <restore>/<max>")
                }
                plan = RateLimitPlan(restoreRate: numbers[0], maximumAvailable: numbers[1])
            }
        }
        var location: Int64? = nil
        if parts.count == 5 {
            guard let id = Int64(parts[4]) else { throw ValidationError("--shop \(spec): locationId must be an integer") }
            location = id
        }
        return ShopConfiguration(domain: parts[0], accessToken: parts[1], webhookSecret: parts[2], plan: plan, locationID: location)
    }

    /// Returns at the first SIGINT or SIGTERM; later ones are ignored while the simulator shuts down.
    static func waitForTermination() async {
        let (signalled, continuation) = AsyncStream<Void>.makeStream()
        let signals = TerminationSignals { _, _ in continuation.yield() }
        for await _ in signalled { break }
        signals.cancel()
    }
}
