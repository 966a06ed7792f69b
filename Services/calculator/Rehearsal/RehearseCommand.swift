import ArgumentParser
import Contracts
import Foundation
import Logging
import Postgres
import ServiceKit

extension CalculatorCommand {
    /// `calculator rehearse`: a day of orders replayed offline under several sync policies.
    struct Rehearse: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replay a day of orders offline under several sync policies: what each would have sold, oversold and lost.",
            discussion: """
                Plays the events of a day through the calculator's own stock model and zero-oversell guard, once per \
                policy, side by side. A buyer in a shop buys only while that shop shows enough of every line (as \
                Shopify does); each order's first webhook is its buyer. For each policy it reports units sold, \
                oversold (sold beyond the warehouse's stock), lost sales (orders a shop refused that the warehouse \
                could have filled), stranded units (available, but in no shop's count at the end), the worst SKUs, \
                and a guard threshold per SKU that would have kept it from overselling with the fewest lost sales.

                It writes nothing to the truth, the broker or a shop: it reads files, or reads the event log as a \
                stream consumer (which changes nothing there).

                Input (one or more):
                  --orders [SHOP=]FILE  Shopify orders, one JSON body per line
                  --events FILE         an event-log export (--save-events)
                  --stream              the event log (--read-from, default first)
                  --stock FILE          starting stock, `sku,on_hand` per line
                Events before --from build the starting state; the rehearsed window is --from … --until (ISO 8601 \
                times; default: from the first order to the last event).

                Policies (--policy, repeatable):
                  mirror             every shop shows the available quantity
                  guard=N            zero-oversell guard, threshold N for every SKU
                                     (per SKU from --thresholds FILE)
                  guard=recommended  the guard with this rehearsal's thresholds
                  interval=N | =Ns   every shop set to the available quantity
                                     every N minutes (or seconds)
                Default: mirror, guard=recommended, interval=15.

                Sync delay (from a sale to the new count in a shop): --delay MS or --delay SHOP=MS, or \
                --measured-delays (the median of the exporters' write reports in the window, read from --postgres). \
                Default 200 ms.

                Example (a day of the event log, then a chart):
                  calculator rehearse --stream \\
                    --from 2026-11-27T00:00:00-05:00 \\
                    --until 2026-11-28T00:00:00-05:00 \\
                    --measured-delays --json bf.json --chart bf.svg
                """)

        @Option(name: .customLong("orders"), help: ArgumentHelp("Shopify order bodies, one per line.", valueName: "[shop=]file"))
        var orderFiles: [String] = []
        @Option(help: "The shop of --orders files given without SHOP=.") var shop: String?
        @Option(name: .customLong("events"), help: ArgumentHelp("An event-log export (--save-events).", valueName: "file"))
        var eventFiles: [String] = []
        @Flag(help: "Read the event log (stockwire.events.log) from the broker.") var stream = false
        @Option(help: "Where the stream read starts: first, an offset or an ISO 8601 time.") var readFrom = "first"
        @Option(help: "Keep what the stream read in this file (for --events later).") var saveEvents: String?
        @Option(help: "Starting stock: `sku,on_hand` per line.") var stock: String?
        @Option(help: "Start of the rehearsed window (ISO 8601); earlier events build the starting state.") var from: String?
        @Option(help: "End of the rehearsed window (ISO 8601); later events are not read.") var until: String?
        @Option(name: .customLong("policy"), help: "A policy to rehearse (repeatable; see above).") var policyTexts: [String] = []
        @Option(help: "Per-SKU guard thresholds for every guard=N policy: `sku,threshold` per line (other SKUs: N).")
        var thresholds: String?
        @Option(
            name: .customLong("delay"), help: ArgumentHelp("Sync delay: MS, or SHOP=MS (repeatable).", valueName: "[shop=]ms"))
        var delayTexts: [String] = []
        @Flag(help: "Use the median delay of the exporters' write reports in the window (reads --postgres).") var measuredDelays =
            false
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var broker: BrokerOptions
        @Option(help: "Write the report as JSON here.") var json: String?
        @Option(help: "Draw the report (SVG or PNG) with Tools/charts/stockwire-chart (needs python3-matplotlib).") var chart:
            String?
        @Option(help: "Worst SKUs listed per policy.") var top = 10

        func validate() throws {
            guard !orderFiles.isEmpty || !eventFiles.isEmpty || stream else {
                throw ValidationError("nothing to rehearse: give --orders FILE, --events FILE or --stream")
            }
            guard StreamReplay.Start(readFrom) != nil else {
                throw ValidationError("--read-from '\(readFrom)' is not 'first', an offset or an ISO 8601 time")
            }
            for t in [from, until].compactMap({ $0 }) where Self.millis(t) == nil {
                throw ValidationError("'\(t)' is not an ISO 8601 time (2026-11-27T09:00:00Z or with an offset)")
            }
            if saveEvents != nil, !stream { throw ValidationError("--save-events keeps what --stream reads: add --stream") }
            if measuredDelays, !delayTexts.isEmpty { throw ValidationError("give --delay or --measured-delays, not both") }
            guard (1...1000).contains(top) else { throw ValidationError("--top must be 1…1000") }
            for text in policyTexts {
                do { _ = try RehearsalPolicy(parsing: text) } catch { throw ValidationError("\(error)") }
            }
            _ = try delays(shops: [])
        }

        func run() async throws {
            let logger = Observability.bootstrap(service: "calculator", level: .warning)
            var input = RehearsalInput()
            do {
                // Unreadable files are RehearsalErrors: "Error: <what>", exit status 1.
                for spec in orderFiles {
                    let (shopName, path) = try orderFile(spec)
                    try input.readOrders(path: path, shop: shopName)
                }
                for path in eventFiles { try input.readSavedEvents(path: path) }
                if let stock { try input.readStock(path: stock) }
            }
            if stream { try await readStream(into: &input, logger: logger) }
            input.sort()

            let fromMillis = from.flatMap(Self.millis)
            let untilMillis = until.flatMap(Self.millis)
            let shops = Rehearsal.shops(of: input.events, plus: [])
            guard !shops.isEmpty else { throw ValidationError("the input has no order of any shop: nothing to rehearse") }
            var settings = RehearsalSettings(shops: shops, delays: try delays(shops: shops))
            if measuredDelays {
                settings.delays = try await measured(shops: shops, from: fromMillis, until: untilMillis, logger: logger)
            }
            settings.guardTimings = try CalculatorConfiguration.fromEnvironment().guardDefaults
            settings.from = fromMillis
            settings.until = untilMillis
            settings.top = top
            var policies = try (policyTexts.isEmpty ? RehearsalPolicy.defaults : policyTexts.map(RehearsalPolicy.init(parsing:)))
            if let thresholds {
                let own = try Self.thresholds(thresholds)
                for i in policies.indices where policies[i].kind == .guarded && !policies[i].usesRecommendations {
                    policies[i].thresholds = own
                }
            }
            let rehearsal = Rehearsal(
                input: input, policies: policies, settings: settings, source: stream ? "stream" : "file")
            let report = await rehearsal.run()
            print(report.text)
            if let json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                try encoder.encode(report).write(to: URL(fileURLWithPath: json), options: .atomic)
                print("report: \(json)")
            }
            if let chart { try draw(chart) }
        }

        // MARK: Options

        private func orderFile(_ spec: String) throws -> (ShopDomain, String) {
            if let eq = spec.firstIndex(of: "="), spec[..<eq].contains(".") {
                return (try ShopDomain(option: "--orders", spec[..<eq]), String(spec[spec.index(after: eq)...]))
            }
            guard let shop else {
                throw RehearsalError("--orders \(spec): whose orders? write --orders SHOP=FILE or add --shop SHOP")
            }
            return (try ShopDomain(option: "--shop", shop), spec)
        }

        /// The sync delay of every shop: `--delay MS` for all, `--delay SHOP=MS` for one; 200 ms otherwise.
        private func delays(shops: [ShopDomain]) throws -> [ShopDomain: Int64] {
            var all: Int64 = 200
            var own: [ShopDomain: Int64] = [:]
            for text in delayTexts {
                let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
                guard let ms = Int64(parts.last!), (0...3_600_000).contains(ms) else {
                    throw ValidationError("--delay \(text): the delay is whole milliseconds, 0…3600000")
                }
                if parts.count == 2 { own[try ShopDomain(option: "--delay", parts[0])] = ms } else { all = ms }
            }
            let unknown = Set(own.keys).subtracting(shops)
            if !shops.isEmpty, !unknown.isEmpty {
                throw ValidationError(
                    "--delay names shop(s) without orders in the input: \(unknown.sorted().map(\.description).joined(separator: ", "))"
                )
            }
            return Dictionary(uniqueKeysWithValues: shops.map { ($0, own[$0] ?? all) })
        }

        /// `sku,threshold` lines (a `sku,threshold` header and `#` comments allowed).
        static func thresholds(_ path: String) throws -> [String: Int64] {
            var out: [String: Int64] = [:]
            try RehearsalFile.forEachSkuNumber(path, column: "threshold") { sku, threshold in out[sku] = threshold }
            return out
        }

        static func millis(_ text: String) -> Int64? {
            guard case .time(let date)? = StreamReplay.Start(text) else { return nil }
            return Int64((date.timeIntervalSince1970 * 1000).rounded())
        }

        // MARK: Reading

        private func readStream(into input: inout RehearsalInput, logger: Logger) async throws {
            let amqp = try await broker.connect(name: "calculator-rehearse", logger: logger)
            defer { Task { await amqp.close() } }
            var file: FileHandle?
            if let saveEvents {
                guard FileManager.default.createFile(atPath: saveEvents, contents: nil) else {
                    throw ValidationError("cannot write --save-events \(saveEvents)")
                }
                file = FileHandle(forWritingAtPath: saveEvents)
            }
            defer { try? file?.close() }
            let until = until.flatMap(Self.millis)
            try await RehearsalStreamReader(amqp: amqp).read(
                from: StreamReplay.Start(readFrom)!, until: until, into: &input, saveTo: file)
            if let saveEvents { print("events kept in \(saveEvents) (rehearse them again with --events \(saveEvents))") }
        }

        /// The median delay per shop from a change first received to the shop's write, over the window.
        private func measured(shops: [ShopDomain], from: Int64?, until: Int64?, logger: Logger) async throws -> [ShopDomain:
            Int64]
        {
            let db = try await CalculatorApplication.connect(database.conninfo, logger: logger)
            defer { Task { await db.close() } }
            let rows = try await db.query(
                """
                SELECT shop, percentile_disc(0.5) WITHIN GROUP (ORDER BY written_at_ms - first_received_at_ms), count(*)
                FROM shop_writes
                WHERE first_received_at_ms IS NOT NULL AND written_at_ms BETWEEN $1 AND $2
                GROUP BY shop
                """, [from ?? 0, until ?? Int64.max])
            var delays: [ShopDomain: Int64] = [:]
            for row in rows.rows {
                guard let ms = row[1].flatMap(Int64.init) else { continue }
                delays[try row.shopDomain(at: 0, of: "shop_writes")] = max(0, ms)
            }
            let missing = shops.filter { delays[$0] == nil }
            guard missing.isEmpty else {
                throw ValidationError(
                    "no write reports in the window for \(missing.map(\.description).joined(separator: ", ")): give --delay for them instead"
                )
            }
            return delays
        }

        // MARK: Chart

        private func draw(_ output: String) throws {
            guard let json else { throw ValidationError("--chart draws the JSON report: add --json FILE") }
            guard let script = Self.chartScript() else {
                print("chart: not drawn — Tools/charts/stockwire-chart not found (run from the source tree)")
                return
            }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: script)
            process.arguments = ["rehearsal", json, output]
            try process.run()
            process.waitUntilExit()
            print(process.terminationStatus == 0 ? "chart: \(output)" : "chart: not drawn (stockwire-chart failed, see above)")
        }

        /// The chart script: beside the executable's source tree, or on PATH.
        static func chartScript() -> String? {
            let fm = FileManager.default
            var candidates = [fm.currentDirectoryPath + "/Tools/charts/stockwire-chart"]
            let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            candidates.append(source.appendingPathComponent("../../../Tools/charts/stockwire-chart").standardized.path)
            for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
                candidates.append("\(dir)/stockwire-chart")
            }
            return candidates.first { fm.isExecutableFile(atPath: $0) }
        }
    }
}
