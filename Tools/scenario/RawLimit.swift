import AMQP
import BrokerBench
import Foundation
import Logging
import ScenarioReports
import Toolbox

/// The broker's raw durable limit on this machine, measured with the same code as `amqp-bench`: persistent
/// messages the size of a typical webhook published to a quorum queue with confirms (window 100), then consumed
/// with one ack per message. Pipeline throughput divided by this says how much of the broker Stockwire uses.
struct RawLimit {
    /// The measurement, in ScenarioReports with the rest of the reports.
    typealias Result = RawLimitReport

    var seconds: Double
    var bodySize: Int

    func run(log: (String) -> Void) async throws -> Result {
        var amqp = try AMQPConfiguration(
            url: LocalServers.amqpURL, connectionName: "stockwire-scenario raw-limit")
        amqp.reconnectMaxDelay = .seconds(1)
        let plan = BenchmarkPlan(
            queueTypes: [.quorum], windows: [100], messages: 400_000, messagesWindow1: 1,
            cellLimit: .milliseconds(Int64(seconds * 1000)),
            bodySize: bodySize, warmup: 1_000, prefetch: 1_000, consumeMessages: 30_000, ackMultipleEvery: 0)
        var logger = Logger(label: "raw-limit")
        logger.logLevel = .warning
        log(
            String(
                format: "raw broker limit: quorum queue, persistent %d B messages, confirm window 100, %.0f s per cell", bodySize,
                seconds))
        let load = BlackFriday.loadAverage()
        let rows = try await BrokerBenchmark(configuration: amqp, plan: plan, logger: logger).run()
        guard let publish = rows.first(where: { $0.operation == .publishConfirm }),
            let consume = rows.first(where: { $0.operation == .consumeAck })
        else { throw ScenarioError("the broker benchmark returned no publish or consume figures") }
        return Result(
            seconds: seconds, bodySize: bodySize, publishConfirmPerSecond: publish.messagesPerSecond,
            confirmP50Ms: publish.confirmLatencyP50Ms, confirmP99Ms: publish.confirmLatencyP99Ms,
            consumeAckPerSecond: consume.messagesPerSecond,
            limitPerSecond: min(publish.messagesPerSecond, consume.messagesPerSecond),
            brokerCPUPercent: publish.cpu.brokerPercent, machineBusyPercent: publish.cpu.machineBusyPercent, loadAverage: load)
    }
}
