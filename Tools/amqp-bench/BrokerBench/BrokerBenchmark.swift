import AMQP
import Foundation
import Logging
import Synchronization

/// Runs the cells of a ``BenchmarkPlan`` on one connection and deletes the queues it declared, also on error.
///
/// Shared by `amqp-bench` (the full table) and `stockwire-scenario raw-limit` (one cell pair in the same run as
/// the pipeline it is compared with).
public struct BrokerBenchmark: Sendable {
    let configuration: AMQPConfiguration
    let plan: BenchmarkPlan
    let logger: Logger
    let progress: @Sendable (String) -> Void
    let finished: @Sendable (ResultRow) -> Void
    /// Part of every queue name, so that runs never share a queue.
    let runID = String(UUID().uuidString.prefix(8)).lowercased()

    /// A benchmark of `plan` against the broker of `configuration`; `progress` hears what starts, `finished` each
    /// row as soon as its cell ends.
    public init(
        configuration: AMQPConfiguration, plan: BenchmarkPlan, logger: Logger,
        progress: @escaping @Sendable (String) -> Void = { _ in }, finished: @escaping @Sendable (ResultRow) -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.plan = plan
        self.logger = logger
        self.progress = progress
        self.finished = finished
    }

    /// Connects, runs every cell in order, cleans up, and returns one row per cell.
    public func run() async throws -> [ResultRow] {
        let connection = AMQPConnection(configuration: configuration, logger: logger)
        connection.start()
        var declared: [String] = []
        do {
            try await connection.waitUntilConnected(timeout: .seconds(10))
            var rows: [ResultRow] = []
            for kind in plan.queueTypes {
                try Task.checkCancellation()
                let queue = "amqp-bench.\(runID).\(kind.rawValue)"
                declared.append(queue)
                try await connection.declare([kind.topology(queue)])
                rows += try await measure(kind, queue: queue, on: connection)
            }
            await cleanUp(declared, on: connection)
            return rows
        } catch {
            await cleanUp(declared, on: connection)
            throw error
        }
    }

    // MARK: - Cells

    private func measure(_ kind: QueueKind, queue: String, on connection: AMQPConnection) async throws
        -> [ResultRow]
    {
        let message = AMQPMessage(
            exchange: "", routingKey: queue, body: [UInt8](repeating: 0x61, count: plan.bodySize))
        var rows: [ResultRow] = []
        var inQueue = 0
        if plan.warmup > 0 {
            progress("\(kind.rawValue): warm-up, \(plan.warmup) messages")
            inQueue += try await publish(message, count: plan.warmup, window: 100, on: connection).confirmed
        }
        for window in plan.windows {
            try Task.checkCancellation()
            progress("\(kind.rawValue): publish, window \(window)")
            let cpu0 = CPUSample.now()
            let cell = try await publish(
                message, count: plan.publishCount(window: window), window: window, on: connection)
            let seconds = cell.elapsed.secondsDouble
            let latency = LatencySummary(cell.latencies)
            inQueue += cell.confirmed
            rows.append(
                report(
                    ResultRow(
                        queueType: kind, operation: .publishConfirm, window: window, messages: cell.confirmed,
                        seconds: seconds, messagesPerSecond: Double(cell.confirmed) / seconds,
                        confirmLatencyP50Ms: latency.milliseconds(atPercentile: 50),
                        confirmLatencyP99Ms: latency.milliseconds(atPercentile: 99), stoppedBy: cell.stop,
                        cpu: CPUSample.now().usage(since: cpu0, wall: seconds))))
        }

        var consumeCells = [(ResultRow.Operation.consumeAck, 1)]
        if plan.ackMultipleEvery > 0 { consumeCells.append((.consumeAckMultiple, plan.ackMultipleEvery)) }
        for (operation, ackEvery) in consumeCells {
            try Task.checkCancellation()
            if inQueue < plan.consumeMessages {
                let missing = plan.consumeMessages - inQueue
                progress("\(kind.rawValue): filling \(missing) messages for the consume cell")
                inQueue += try await publish(message, count: missing, window: 1000, on: connection).confirmed
            }
            progress("\(kind.rawValue): \(operation.rawValue)")
            let cpu0 = CPUSample.now()
            let cell = try await consume(queue, count: plan.consumeMessages, ackEvery: ackEvery, on: connection)
            let seconds = cell.elapsed.secondsDouble
            inQueue -= cell.received
            rows.append(
                report(
                    ResultRow(
                        queueType: kind, operation: operation, prefetch: Int(plan.prefetch), ackEvery: ackEvery,
                        messages: cell.received, seconds: seconds, messagesPerSecond: Double(cell.received) / seconds,
                        stoppedBy: cell.stop, cpu: CPUSample.now().usage(since: cpu0, wall: seconds))))
        }
        return rows
    }

    private struct PublishCell {
        var confirmed: Int
        var elapsed: Duration
        var latencies: [Duration]
        var stop: ResultRow.Stop
    }

    /// Publishes up to `count` messages with `window` of them awaiting a confirm at any time, within the cell limit.
    private func publish(_ message: AMQPMessage, count: Int, window: Int, on connection: AMQPConnection)
        async throws -> PublishCell
    {
        let claimed = SlotCounter()
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + plan.cellLimit
        let latencies = try await withThrowingTaskGroup(of: [Duration].self) { group in
            for _ in 0..<min(window, count) {
                group.addTask {
                    var mine: [Duration] = []
                    mine.reserveCapacity(count / window + 1)
                    // Bounded: each pass claims one of `count` slots, and the deadline stops it early.
                    while !Task.isCancelled, clock.now < deadline, claimed.claim(below: count) {
                        let sent = clock.now
                        try await connection.publish(message)
                        mine.append(clock.now - sent)
                    }
                    return mine
                }
            }
            var all: [Duration] = []
            all.reserveCapacity(count)
            for try await mine in group { all += mine }
            return all
        }
        try Task.checkCancellation()
        let elapsed = clock.now - start
        return PublishCell(
            confirmed: latencies.count, elapsed: elapsed, latencies: latencies,
            stop: latencies.count >= count ? .count : .time)
    }

    private struct ConsumeCell {
        var received: Int
        var elapsed: Duration
        var stop: ResultRow.Stop
    }

    /// Consumes up to `count` deliveries, acking every one (`ackEvery` 1) or with ack-multiple every `ackEvery`.
    private func consume(_ queue: String, count: Int, ackEvery: Int, on connection: AMQPConnection) async throws
        -> ConsumeCell
    {
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + plan.cellLimit
        let consumer = connection.consume(queue: queue, prefetch: plan.prefetch)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            // The loop below stops at the deadline only when deliveries come; this ends it when they do not.
            group.addTask {
                try? await Task.sleep(until: deadline + .seconds(1), clock: clock)
                consumer.cancel()
            }
            defer { group.cancelAll() }
            var received = 0
            var unacked: AMQPDelivery?
            for try await delivery in consumer {
                received += 1
                if ackEvery <= 1 {
                    delivery.ack()
                } else if received % ackEvery == 0 {
                    delivery.ack(multiple: true)
                    unacked = nil
                } else {
                    unacked = delivery
                }
                if received >= count || clock.now >= deadline || Task.isCancelled { break }
            }
            unacked?.ack(multiple: true)
            let elapsed = clock.now - start
            consumer.cancel()
            try Task.checkCancellation()
            return ConsumeCell(received: received, elapsed: elapsed, stop: received >= count ? .count : .time)
        }
    }

    // MARK: - Clean-up and output

    private func cleanUp(_ queues: [String], on connection: AMQPConnection) async {
        for queue in queues {
            do {
                try await connection.deleteQueue(queue)
            } catch {
                FileHandle.standardError.write(
                    Data(
                        "could not delete queue \(queue): \(error); delete it with deploy/local/rabbitmqctl.sh delete_queue \(queue)\n"
                            .utf8))
            }
        }
        await connection.close()
    }

    /// Hands a finished cell's row to `finished`, and returns it.
    private func report(_ row: ResultRow) -> ResultRow {
        finished(row)
        return row
    }
}

/// Hands out the slots of a cell to its publishing tasks.
final class SlotCounter: Sendable {
    private let next = Atomic<Int>(0)

    /// Takes the next slot; false once `limit` slots are taken.
    func claim(below limit: Int) -> Bool {
        next.wrappingAdd(1, ordering: .relaxed).oldValue < limit
    }
}
