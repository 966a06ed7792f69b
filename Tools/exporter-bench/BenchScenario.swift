import AMQP
import Contracts
import Foundation
import Logging
import ShopifySimulator
import Synchronization

/// One measured run: an in-process simulator with `shops` shops on one rate-limit plan, the real exporter as a
/// child process, and a publisher that keeps every SKU changing as fast as the broker confirms.
///
/// Phases: warm-up (every SKU once, until every shop shows it: the exporter resolves SKU → inventory item and
/// reads the levels, which a steady stream does not repeat), ramp (full load, so the shop's cost bucket is spent
/// down to its steady state), then the measured window.
struct BenchScenario: Sendable {
    var planName: String
    var plan: RateLimitPlan
    var shops: Int
    var skus: Int
    var window: Int
    var ramp: Duration
    var measure: Duration
    var amqpURL: String
    var exporterBinary: String
    var workDirectory: URL

    /// What one shop saw in the measured window.
    struct ShopResult: Sendable {
        var shop: String
        var seconds: Double
        var writes: Int
        var quantities: Int
        var throttled: Int
    }

    /// The whole run's figures.
    struct Result: Sendable {
        var planName: String
        var plan: RateLimitPlan
        var skus: Int
        var shops: [ShopResult]
        var published: Int
        var seconds: Double
        var exporterCPUSeconds: Double
        var backlogAtEnd: Int
        var warmUpSeconds: Double
    }

    func run(log: @Sendable (String) -> Void) async throws -> Result {
        let rig = try await BenchRig.start(self)
        do {
            let warmUpSeconds = try await rig.warmUp(log: log)

            // MARK: Load
            log("\(planName): full load, ramp \(ramp), then measuring \(measure)")
            let load = Task { try await rig.publisher.run(fromRound: 2) }
            try await Task.sleep(for: ramp)
            let cursors = await rig.cursors()
            let cpu0 = try rig.exporter.cpuSeconds()
            let published0 = rig.publisher.published
            let t0 = ContinuousClock.now
            try await Task.sleep(for: measure)
            let cpu1 = try rig.exporter.cpuSeconds()
            let published1 = rig.publisher.published
            let seconds = (ContinuousClock.now - t0).inSeconds
            var results: [ShopResult] = []
            for domain in rig.domains {
                let entries = await rig.simulator.writeLog(shop: domain, since: cursors[domain] ?? 0)
                    .filter { $0.operation == "inventorySetQuantities" }
                let applied = entries.filter { $0.result == "applied" }
                results.append(
                    ShopResult(
                        shop: domain, seconds: seconds, writes: applied.count,
                        quantities: applied.reduce(0) { $0 + ($1.quantities?.count ?? 0) },
                        throttled: entries.filter { $0.result == "throttled" }.count))
            }
            rig.publisher.stop()
            _ = try? await load.value
            let backlog = try await rig.backlog()
            await rig.teardown()
            return Result(
                planName: planName, plan: plan, skus: skus, shops: results, published: published1 - published0,
                seconds: seconds, exporterCPUSeconds: cpu1 - cpu0, backlogAtEnd: backlog, warmUpSeconds: warmUpSeconds)
        } catch {
            await rig.teardown(keepLog: true)
            throw error
        }
    }
}

/// What a bench run stands on: the simulator with its shops and SKUs, the broker, the exporter as a child process
/// consuming the shops' queues, and an exchange of the run's own bound to them.
struct BenchRig: Sendable {
    let scenario: BenchScenario
    let simulator: Simulator
    let connection: AMQPConnection
    let exporter: ExporterProcess
    let domains: [String]
    let skuNames: [String]
    let queues: [String]
    let exchange: String
    let directory: URL
    let publisher: LoadPublisher

    static func start(_ scenario: BenchScenario) async throws -> BenchRig {
        let id = String(UUID().uuidString.prefix(8).lowercased())
        let domains = (0..<scenario.shops).map { "bench\(id)-\($0).myshopify.com" }
        let skuNames = (0..<scenario.skus).map { "BENCH-\(id)-\($0)" }
        let exchange = "exporter-bench.\(id)"
        let directory = scenario.workDirectory.appendingPathComponent("exporter-bench-\(id)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)

        // MARK: Simulator and shops file
        let simulator = try await Simulator.start(
            SimulatorConfiguration(
                shops: domains.map {
                    ShopConfiguration(domain: $0, accessToken: "token-\($0)", webhookSecret: "s", plan: scenario.plan)
                }))
        var shopsFile: [[String: String]] = []
        for domain in domains {
            for sku in skuNames { try await simulator.createVariant(shop: domain, sku: sku, available: 0) }
            let tokenFile = directory.appendingPathComponent("\(domain).token")
            try "token-\(domain)\n".write(to: tokenFile, atomically: true, encoding: .utf8)
            shopsFile.append(["domain": domain, "token_file": tokenFile.path, "admin_url": simulator.adminBaseURL(shop: domain)])
        }
        let shopsPath = directory.appendingPathComponent("shops.json").path
        try JSONSerialization.data(withJSONObject: shopsFile).write(to: URL(fileURLWithPath: shopsPath))

        // MARK: Broker and exporter
        var logger = Logger(label: "exporter-bench")
        logger.logLevel = .warning
        let connection = AMQPConnection(
            configuration: try AMQPConfiguration(url: scenario.amqpURL, connectionName: "exporter-bench"),
            topology: [.exchange(name: exchange, kind: .topic)], logger: logger)
        connection.start()
        try await connection.waitUntilConnected(timeout: .seconds(30))
        let exporter = try ExporterProcess.start(
            binary: scenario.exporterBinary,
            arguments: ["--shops-file", shopsPath, "--amqp-url", scenario.amqpURL, "--ops-port", "0"],
            environment: ["STOCKWIRE_LOG_LEVEL": "warning"],
            logFile: directory.appendingPathComponent("exporter.log").path)
        let rig = BenchRig(
            scenario: scenario, simulator: simulator, connection: connection, exporter: exporter, domains: domains,
            skuNames: skuNames, queues: domains.map { StockwireTopology.exporterQueue(shop: $0) }, exchange: exchange,
            directory: directory,
            publisher: LoadPublisher(connection: connection, exchange: exchange, skus: skuNames, window: scenario.window))
        do {
            // The exporter binds its queues to stockwire.availability, which other shops' queues share; the load
            // goes through an exchange of this run's own, bound to these shops' queues only.
            for queue in rig.queues {
                try await rig.waitFor(seconds: 60, "the exporter to consume \(queue) (log: \(exporter.logFile))") {
                    guard exporter.isRunning else { throw BenchError("the exporter exited; see \(exporter.logFile)") }
                    let info = try? await connection.queueInfo(queue)
                    return (info?.consumers ?? 0) >= 1
                }
                try await connection.declare([.binding(queue: queue, exchange: exchange, routingKey: "#")])
            }
        } catch {
            await rig.teardown(keepLog: true)
            throw error
        }
        return rig
    }

    /// Every SKU once, until every shop shows it (the exporter resolves SKU → inventory item and reads the levels,
    /// which a steady stream does not repeat); returns the seconds it took.
    func warmUp(log: @Sendable (String) -> Void) async throws -> Double {
        log("\(scenario.planName): warming up \(skuNames.count) SKUs in \(domains.count) shop(s)")
        let warmStart = ContinuousClock.now
        try await publisher.publishRound(1)
        for domain in domains {
            try await waitFor(seconds: 900, "shop \(domain) to show every SKU once") {
                let levels = try await simulator.levels(shop: domain)
                return skuNames.allSatisfy { levels[$0] == 1 }
            }
        }
        return (ContinuousClock.now - warmStart).inSeconds
    }

    /// The last write-log sequence of every shop.
    func cursors() async -> [String: Int] {
        var cursors: [String: Int] = [:]
        for domain in domains { cursors[domain] = await simulator.writeLog(shop: domain).last?.sequence ?? 0 }
        return cursors
    }

    /// Messages waiting in the shops' queues.
    func backlog() async throws -> Int {
        var backlog = 0
        for queue in queues { backlog += Int(try await connection.queueInfo(queue).messages) }
        return backlog
    }

    func teardown(keepLog: Bool = false) async {
        await exporter.stop()
        for queue in queues {
            try? await connection.deleteQueue(queue)
            try? await connection.deleteQueue(StockwireTopology.deadLetterQueue(of: queue))
        }
        try? await connection.deleteExchange(exchange)
        await connection.close()
        await simulator.shutdown()
        if !keepLog { try? FileManager.default.removeItem(at: directory) }
    }

    func waitFor(seconds: Int, _ what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw BenchError("timed out after \(seconds) s waiting for \(what)")
    }
}

/// Publishes availability changes for every SKU, round after round (round r: version r, available r, so every
/// round changes every shop), with `window` publishes awaiting their confirm at a time.
final class LoadPublisher: Sendable {
    let connection: AMQPConnection
    let exchange: String
    let skus: [String]
    let window: Int
    private let count = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)

    init(connection: AMQPConnection, exchange: String, skus: [String], window: Int) {
        self.connection = connection
        self.exchange = exchange
        self.skus = skus
        self.window = window
    }

    /// Messages confirmed so far.
    var published: Int { count.load(ordering: .relaxed) }

    func stop() { stopped.store(true, ordering: .relaxed) }

    /// One round, every SKU once; `headers` on every message (a reconciliation round's flag).
    func publishRound(_ round: Int, headers: [String: AMQPValue] = [:]) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<min(window, skus.count) {
                group.addTask {
                    for i in stride(from: lane, to: self.skus.count, by: self.window) {
                        try await self.publish(sku: self.skus[i], round: round, headers: headers)
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// Rounds from `first` on until ``stop()``; each lane runs its own rounds, so no lane waits for another.
    func run(fromRound first: Int) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<min(window, skus.count) {
                group.addTask {
                    var round = first
                    while !self.stopped.load(ordering: .relaxed) {
                        for i in stride(from: lane, to: self.skus.count, by: self.window) {
                            try await self.publish(sku: self.skus[i], round: round)
                        }
                        round += 1
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// The calculator's JSON for a round, written by hand: JSONEncoder would cost the shared cores more than the
    /// exporter does. `main` checks it with ``AvailabilityMessage/decode(_:)`` once.
    static func body(sku: String, round: Int) -> [UInt8] {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        return Array(
            """
            {"available":\(round),"causes":["bench/\(round)"],"computed_at_ms":\(now),"first_received_at_ms":\(now),\
            "on_hand":\(round),"reserved":0,"schema_version":1,"sku":"\(sku)","version":\(round)}
            """.utf8)
    }

    private func publish(sku: String, round: Int, headers: [String: AMQPValue] = [:]) async throws {
        let body = Self.body(sku: sku, round: round)
        while true {
            do {
                try await connection.publish(
                    AMQPMessage(
                        exchange: exchange, routingKey: sku, body: body,
                        properties: AMQPProperties(
                            contentType: "application/json", messageId: "\(sku)/\(round)",
                            type: AvailabilityMessage.messageType, headers: headers)))
                count.add(1, ordering: .relaxed)
                return
            } catch let error as AMQPError where error.code == .blocked || error.code == .nacked {
                try await Task.sleep(for: .milliseconds(50))  // broker alarm or a full queue: back off, try again
            }
        }
    }
}

extension Duration {
    var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
