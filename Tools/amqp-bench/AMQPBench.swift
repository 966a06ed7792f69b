import AMQP
import ArgumentParser
import BrokerBench
import Foundation
import Logging
import Toolbox

/// Measures the broker's raw durable limit through the `AMQP` module: publish-with-confirm and consume-with-ack
/// throughput of 1 KiB persistent messages, for quorum and classic durable queues, at several confirm windows.
@main
struct AMQPBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "amqp-bench",
        abstract: "Measure durable publish-with-confirm and consume-with-ack throughput of the local RabbitMQ.",
        discussion: """
            For every queue type it declares one queue with a unique name (amqp-bench.<run id>.<type>), publishes \
            --warmup messages that are not reported, then one publish cell per confirm window (window = publishes \
            in flight awaiting their confirm: that many tasks, each publishing and awaiting its confirm), then \
            consume cells (ack every message, and ack-multiple). Every cell stops at its message count or after \
            --seconds-per-cell, whichever comes first. The queues are deleted at the end, also after an error or \
            Ctrl-C (press twice to exit at once). Prints a table; --json writes the same figures as JSON.
            """)

    @Option(help: "Broker URL (default: $STOCKWIRE_AMQP_URL, else amqp://guest:guest@127.0.0.1:5672/).")
    var url: String = LocalServers.amqpURL

    @Option(name: .customLong("queue-types"), help: "Queue types to measure, comma-separated: quorum, classic.")
    var queueTypesList: String = "quorum,classic"

    @Option(name: .customLong("windows"), help: "Confirm windows (publishes in flight), comma-separated.")
    var windowsList: String = "1,10,100,1000"

    @Option(help: "Messages per publish cell.")
    var messages: Int = 20_000

    @Option(
        name: .customLong("messages-window-1"),
        help: "Messages per publish cell at window 1 (one round trip per message, so fewer).")
    var messagesWindow1: Int = 3_000

    @Option(help: "Upper bound on the seconds of one cell; a cell that hits it reports what it did.")
    var secondsPerCell: Double = 15

    @Option(help: "Body size in bytes.")
    var bodySize: Int = 1024

    @Option(help: "Unreported messages published at window 100 before the first cell of each queue type.")
    var warmup: Int = 2_000

    @Option(help: "Consumer prefetch (basic.qos) of the consume cells.")
    var prefetch: Int = 1000

    @Option(help: "Messages per consume cell.")
    var consumeMessages: Int = 20_000

    @Option(help: "Also consume with one ack-multiple every N deliveries, as a separate row (0 = skip that row).")
    var ackMultipleEvery: Int = 100

    @Option(help: "Management API base URL, only to read the RabbitMQ version (default: http://<amqp host>:15672).")
    var managementURL: String?

    @Option(help: "Also write the results as JSON to this file.")
    var json: String?

    func validate() throws {
        _ = try queueTypes()
        _ = try windows()
        for (name, value) in [
            ("--messages", messages), ("--messages-window-1", messagesWindow1), ("--consume-messages", consumeMessages),
        ] where value < 1 {
            throw ValidationError("\(name) must be at least 1, got \(value)")
        }
        guard secondsPerCell > 0 else { throw ValidationError("--seconds-per-cell must be positive") }
        guard bodySize >= 0 else { throw ValidationError("--body-size must not be negative") }
        guard warmup >= 0 else { throw ValidationError("--warmup must not be negative") }
        guard (1...Int(UInt16.max)).contains(prefetch) else {
            throw ValidationError("--prefetch must be 1...65535, got \(prefetch)")
        }
        guard ackMultipleEvery >= 0, ackMultipleEvery <= prefetch else {
            throw ValidationError("--ack-multiple-every must be 0...prefetch (\(prefetch)), got \(ackMultipleEvery)")
        }
        _ = try AMQPConfiguration(url: url)
    }

    func run() async throws {
        var amqp = try AMQPConfiguration(url: url, connectionName: "amqp-bench")
        amqp.reconnectMaxDelay = .seconds(1)
        let plan = BenchmarkPlan(
            queueTypes: try queueTypes(), windows: try windows(), messages: messages,
            messagesWindow1: messagesWindow1, cellLimit: .milliseconds(Int64(secondsPerCell * 1000)),
            bodySize: bodySize, warmup: warmup, prefetch: UInt16(prefetch), consumeMessages: consumeMessages,
            ackMultipleEvery: ackMultipleEvery)
        var logger = Logger(label: "amqp-bench")
        logger.logLevel = .warning

        let machine = await MachineInfo.collect(
            managementURL: managementURL ?? "http://\(amqp.host):15672", user: amqp.user, password: amqp.password)
        let started = Date()
        FileHandle.standardError.write(Data("\(machine.summary)\nbroker \(amqp.redactedURL)\n".utf8))

        let interrupts = InterruptSignals()
        defer { interrupts.stop() }
        let benchmark = BrokerBenchmark(
            configuration: amqp, plan: plan, logger: logger,
            progress: { FileHandle.standardError.write(Data("… \($0)\n".utf8)) },
            finished: { FileHandle.standardError.write(Data("  \(BenchmarkReport.line($0))\n".utf8)) })
        let rows: [ResultRow]
        do {
            rows = try await runInterruptibly(benchmark, interrupts: interrupts)
        } catch is CancellationError {
            throw ExitCode(130)
        }

        let report = BenchmarkReport(
            date: started, command: CommandLine.arguments.joined(separator: " "), machine: machine,
            plan: plan, rows: rows)
        print(report.text)
        if let json {
            try report.jsonData().write(to: URL(fileURLWithPath: json))
            print("JSON written to \(json)")
        }
    }

    /// Runs the benchmark until it ends or a signal comes; on a signal it is cancelled (it then deletes its queues)
    /// and this throws `CancellationError`.
    private func runInterruptibly(_ benchmark: BrokerBenchmark, interrupts: InterruptSignals) async throws
        -> [ResultRow]
    {
        try await withThrowingTaskGroup(of: [ResultRow]?.self) { group in
            group.addTask { try await benchmark.run() }
            group.addTask {
                guard await interrupts.next() else { return nil }
                FileHandle.standardError.write(Data("interrupted: cleaning up (press again to exit at once)\n".utf8))
                return nil
            }
            defer { group.cancelAll() }
            // The first child to end decides: the rows, or nil for a signal, which cancels the benchmark.
            while let result = try await group.next() {
                if let rows = result { return rows }
                group.cancelAll()
            }
            throw CancellationError()
        }
    }

    private func queueTypes() throws -> [QueueKind] {
        let items = queueTypesList.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let kinds = try items.map { item in
            guard let kind = QueueKind(rawValue: item) else {
                throw ValidationError("--queue-types: unknown queue type '\(item)' (use quorum, classic)")
            }
            return kind
        }
        guard !kinds.isEmpty else { throw ValidationError("--queue-types must name at least one queue type") }
        return kinds
    }

    private func windows() throws -> [Int] {
        let items = windowsList.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let windows = try items.map { item in
            guard let w = Int(item), (1...100_000).contains(w) else {
                throw ValidationError("--windows: '\(item)' is not a window in 1...100000")
            }
            return w
        }
        guard !windows.isEmpty else { throw ValidationError("--windows must list at least one window") }
        return windows
    }
}
