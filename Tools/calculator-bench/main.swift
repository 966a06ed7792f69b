// calculator-bench: events applied per second by the real `calculator run`, batched vs. one transaction per event,
// at 1, 100 and 10,000 SKUs, against the local PostgreSQL and RabbitMQ.
//
//   calculator-bench [events-per-run] [sku-counts, default 1,100,10000]      (env STOCKWIRE_POSTGRES, STOCKWIRE_AMQP_URL, CALCULATOR_BIN)
//
// Modes: batches of 500 with the pipeline on (the default: the next transaction runs while the previous batch is
// published and acked) and off, and one transaction per event.
// Each run: a fresh database (`calculator migrate`), SKUs inserted, N receipt events pre-published to a fresh queue,
// then `calculator run` is started and the rate is measured from the first to the last applied event.
import AMQP
import Contracts
import Foundation
import Logging
import Postgres
import Toolbox

let postgres = LocalServers.postgresConninfo
let amqpURL = LocalServers.amqpURL
let batchedEvents = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 40_000 : 40_000
let singleEvents = max(1, batchedEvents / 8)
let skuCounts = CommandLine.arguments.count > 2 ? CommandLine.arguments[2].split(separator: ",").compactMap { Int($0) } : [1, 100, 10_000]
let onlyBatched = ProcessInfo.processInfo.environment["BENCH_ONLY_BATCHED"] == "1"
/// Batch size of the batched modes (env BENCH_BATCH_SIZE, default 1000: the calculator's default).
let batchSize = Int(ProcessInfo.processInfo.environment["BENCH_BATCH_SIZE"] ?? "") ?? 1_000

let binary =
    ProcessInfo.processInfo.environment["CALCULATOR_BIN"]
    ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("calculator").path
func makeLogger() -> Logger {
    var logger = Logger(label: "calculator-bench")
    logger.logLevel = .warning
    return logger
}

func measure(skus: Int, batchSize: Int, pipeline: Int, events: Int) async throws -> (rate: Double, cpuPerThousand: Double) {
    let id = UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(10).lowercased()
    let dbName = "calcbench_\(id)"
    let admin = try await PostgresConnection.connect(postgres)
    try await admin.execute("CREATE DATABASE \(dbName)")
    let conninfo = postgres + " dbname=\(dbName)"
    let migrate = try Process.launch(
        binary, ["migrate"], environment: ["STOCKWIRE_POSTGRES": conninfo, "STOCKWIRE_LOG_LEVEL": "warning"])
    migrate.waitUntilExit()
    let db = try await PostgresConnection.connect(conninfo)
    try await db.query("INSERT INTO skus (sku) SELECT 'S' || g FROM generate_series(0, $1::int - 1) g", [skus])

    let queue = "calcbench.\(id)"
    let exchange = "calcbench.events.\(id)"
    let env = [
        "STOCKWIRE_POSTGRES": conninfo, "STOCKWIRE_AMQP_URL": amqpURL, "STOCKWIRE_CALCULATOR_QUEUE": queue,
        "STOCKWIRE_EVENTS_EXCHANGE": exchange, "STOCKWIRE_AVAILABILITY_EXCHANGE": "calcbench.availability.\(id)",
        "STOCKWIRE_CATALOG_EXCHANGE": "calcbench.catalog.\(id)", "STOCKWIRE_DEAD_EXCHANGE": "calcbench.dead.\(id)",
        "STOCKWIRE_CALCULATOR_BATCH_SIZE": "\(batchSize)", "STOCKWIRE_CALCULATOR_PIPELINE": "\(pipeline)", "STOCKWIRE_CALCULATOR_OPS_PORT": "0",
        "STOCKWIRE_CALCULATOR_OPS_HOST": "127.0.0.1", "STOCKWIRE_LOG_LEVEL": "error",
    ]
    let amqp = AMQPConnection(
        configuration: try AMQPConfiguration(url: amqpURL, connectionName: "calculator-bench"),
        topology: [
            .exchange(name: exchange, kind: .topic), .exchange(name: "calcbench.dead.\(id)", kind: .direct),
            .quorumQueue("dead.\(queue)"), .binding(queue: "dead.\(queue)", exchange: "calcbench.dead.\(id)", routingKey: queue),
            .quorumQueue(queue, deadLetterExchange: "calcbench.dead.\(id)", deadLetterRoutingKey: queue,
                         deliveryLimit: StockwireTopology.deliveryLimit),
            .binding(queue: queue, exchange: exchange, routingKey: "#"),
        ], logger: makeLogger())
    amqp.start()
    try await amqp.waitUntilConnected(timeout: .seconds(30))
    try await withThrowingTaskGroup(of: Void.self) { group in
        for worker in 0..<64 {
            group.addTask {
                for i in stride(from: worker, to: events, by: 64) {
                    let m = StockMovement(movementId: "m\(i)", sku: "S\(i % skus)", kind: .receipt, quantity: 1)
                    var message = EventEnvelope(
                        source: .warehouse, shop: nil, topic: "receipt", deliveryId: m.movementId,
                        receivedAtMillis: Int64(Date().timeIntervalSince1970 * 1000), body: m.json()
                    ).message()
                    message.exchange = exchange
                    try await amqp.publish(message, timeout: .seconds(30))
                }
            }
        }
        try await group.waitForAll()
    }

    let calculator = try Process.launch(binary, ["run"], environment: env)
    var start: (ContinuousClock.Instant, Int64, Double)?
    var cpuAtEnd = 0.0
    var end = ContinuousClock.now
    while true {
        let count = try await db.query("SELECT count(*) FROM processed_messages").scalar(Int64.self)
        if start == nil, count > 0 {
            start = (ContinuousClock.now, count, LinuxProcess(pid: calculator.processIdentifier).cpuSeconds() ?? 0)
        }
        // Done when every event is committed and every availability message is published and marked sent.
        if count >= Int64(events),
            try await db.query("SELECT count(*) FROM outbox WHERE sent_at IS NULL").scalar(Int64.self) == 0
        {
            end = ContinuousClock.now
            cpuAtEnd = LinuxProcess(pid: calculator.processIdentifier).cpuSeconds() ?? 0
            break
        }
        // count(*) scans the dedupe table: poll it often only near the start and the end, so that the bench's
        // own queries do not take PostgreSQL's time from the calculator being measured.
        let nearEdge = count < 1_000 || count >= Int64(Double(events) * 0.97)
        try await Task.sleep(for: .milliseconds(nearEdge ? 10 : 250))
    }
    calculator.terminate()
    calculator.waitUntilExit()
    let (t0, c0, cpu0) = start!
    let seconds = Double((end - t0).components.attoseconds) / 1e18 + Double((end - t0).components.seconds)
    let total = try await db.query("SELECT sum(on_hand) FROM skus").scalar(Int64.self)
    precondition(total == Int64(events), "expected \(events) units on hand, found \(total)")
    try? await amqp.deleteQueue(queue)
    try? await amqp.deleteQueue("dead.\(queue)")
    try? await amqp.deleteExchange(exchange)
    await amqp.close()
    await db.close()
    try await admin.execute("DROP DATABASE \(dbName) WITH (FORCE)")
    await admin.close()
    let applied = Double(Int64(events) - c0)
    return (applied / seconds, (cpuAtEnd - cpu0) / applied * 1000)
}

print("| SKUs | mode | events | events/s | calculator CPU s per 1,000 events |")
print("|---:|---|---:|---:|---:|")
for skus in skuCounts {
    for (mode, batch, pipeline, events) in [
        ("batched (\(batchSize)/tx), pipelined (2 batches)", batchSize, 2, batchedEvents),
        ("batched (\(batchSize)/tx), one batch at a time", batchSize, 1, batchedEvents),
        ("one tx per event", 1, 1, singleEvents),
    ] where !onlyBatched || batch > 1 {
        let (rate, cpu) = try await measure(skus: skus, batchSize: batch, pipeline: pipeline, events: events)
        FileHandle.standardOutput.write(
            Data("| \(skus) | \(mode) | \(events) | \(Int(rate)) | \(String(format: "%.3f", cpu)) |\n".utf8))
    }
}
