import BrokerBench
import Foundation

/// The results of one run, as a table for people and as JSON for tools.
struct BenchmarkReport: Encodable {
    var date: Date
    /// The command line that produced the figures.
    var command: String
    var machine: MachineInfo
    var plan: BenchmarkPlan
    var rows: [ResultRow]

    /// The table with a header naming the machine and the settings.
    var text: String {
        var lines = [
            "amqp-bench \(ISO8601DateFormatter().string(from: date))",
            "machine: \(machine.summary)",
            "body \(plan.bodySize) B persistent, mandatory; publish cells \(plan.messages) msgs "
                + "(\(plan.messagesWindow1) at window 1), consume cells \(plan.consumeMessages) msgs "
                + "at prefetch \(plan.prefetch); at most \(plan.cellLimit.secondsDouble) s per cell",
            "",
            Self.header,
            String(repeating: "-", count: Self.header.count),
        ]
        lines += rows.map(Self.line)
        lines.append("")
        lines.append(
            "CPU: percent of one core (client = this process, all threads; broker = beam.smp); "
                + "machine = percent of all \(machine.nproc) cores, including other users' work.")
        return lines.joined(separator: "\n")
    }

    static let header = line(
        [
            "queue", "operation", "window", "msgs", "seconds", "msg/s", "p50 ms", "p99 ms", "stop",
            "client%", "broker%", "machine%",
        ])

    /// One row of the table.
    static func line(_ row: ResultRow) -> String {
        func ms(_ v: Double?) -> String { v.map { String(format: "%.2f", $0) } ?? "-" }
        func pct(_ v: Double?) -> String { v.map { String(format: "%.0f", $0) } ?? "-" }
        return line([
            row.queueType.rawValue, row.operationLabel, row.window.map(String.init) ?? "pf \(row.prefetch ?? 0)",
            String(row.messages), String(format: "%.2f", row.seconds), String(format: "%.0f", row.messagesPerSecond),
            ms(row.confirmLatencyP50Ms), ms(row.confirmLatencyP99Ms), row.stoppedBy.rawValue,
            pct(row.cpu.clientPercent), pct(row.cpu.brokerPercent),
            pct(row.cpu.machineBusyPercent),
        ])
    }

    private static let widths = [8, -26, 7, 7, 8, 8, 7, 7, 6, 8, 8, 9]

    private static func line(_ cells: [String]) -> String {
        zip(cells, widths).map { cell, width in
            let pad = String(repeating: " ", count: max(0, abs(width) - cell.count))
            return width < 0 ? cell + pad : pad + cell
        }.joined(separator: " ")
    }

    /// The report as pretty-printed JSON with sorted keys.
    func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return try encoder.encode(self)
    }
}
