import Foundation
import StockwireTestSupport
import Synchronization
import Testing

@testable import AMQP

/// Tests that restart or block the shared broker. `deploy/local/test.sh` runs them on their own, after the rest,
/// so that they cannot disturb other tests.
@Suite(.serialized) struct BrokerDisruptiveTests {
    @Test func brokerRestartMidStreamReconnectsAndReportsEveryUnconfirmedPublish() async throws {
        let queue = TestBroker.unique("restart")
        let conn = try await TestBroker.connect("restart-test", topology: [.quorumQueue(queue)])
        let total = 2_000
        let confirmed = Shared(Set<Int>())
        let failures = Shared(0)
        // Publishes called and not answered yet: every one must be answered (confirmed or failed), none left waiting.
        let inFlight = Shared(0)
        let finished = Shared(false)

        let publisher = Task {
            defer { finished.update { $0 = true } }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<20 {
                    group.addTask {
                        for i in stride(from: worker, to: total, by: 20) {
                            while true {
                                do {
                                    inFlight.update { $0 += 1 }
                                    defer { inFlight.update { $0 -= 1 } }
                                    try await conn.publish(
                                        AMQPMessage(
                                            exchange: "", routingKey: queue, body: Array("\(i)".utf8),
                                            properties: .init(messageId: "\(i)")))
                                    confirmed.update { _ = $0.insert(i) }
                                    break
                                } catch let error as AMQPError {
                                    // Reported to the caller, who decides to retry: that is the contract.
                                    #expect([.connectionLost, .notConnected, .channelClosed].contains(error.code))
                                    failures.update { $0 += 1 }
                                    try await conn.waitUntilConnected(timeout: .seconds(60))
                                }
                            }
                            // Paced (about 200 messages/s in all) so that the restart lands mid-stream.
                            try await Task.sleep(for: .milliseconds(100))
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        // Let the stream get going, then restart the broker application under it.
        #expect(try await eventually { confirmed.value.count > 300 })
        try TestBroker.rabbitmqctl("stop_app")
        #expect(try await eventually { conn.status != .ready })
        try TestBroker.rabbitmqctl("start_app")
        // Bounded: a publish the client never answers (it once dropped the commands it had taken with the one that
        // met the dead socket) must fail the test with the figures, not hang the run.
        let done = try await eventually(timeout: .seconds(120)) { finished.value }
        guard done else {
            Issue.record(
                "publishing did not finish: \(inFlight.value) publishes never answered, \(confirmed.value.count) of \(total) confirmed")
            return
        }
        try await publisher.value

        #expect(confirmed.value.count == total)
        #expect(failures.value > 0, "the restart happened while publishing, so some publish must fail")
        // Every confirmed message survived the restart (persistent, quorum); retries may add duplicates.
        // Bounded: a message missing must fail the test with the figures, not hang the run.
        let consumer = conn.consume(queue: queue, prefetch: 1000)
        let deadline = Task {
            try? await Task.sleep(for: .seconds(60))
            consumer.cancel()
        }
        var seen = Set<Int>()
        for try await d in consumer {
            seen.insert(Int(String(decoding: d.body, as: UTF8.self)) ?? -1)
            d.ack()
            if seen.count == total { break }
        }
        deadline.cancel()
        consumer.cancel()
        #expect(seen == Set(0..<total), "missing after the restart: \(Set(0..<total).subtracting(seen).sorted().prefix(20))")
        try await conn.deleteQueue(queue)
        await conn.close()
    }

    @Test func consumerResumesAfterBrokerRestart() async throws {
        let queue = TestBroker.unique("resume")
        let conn = try await TestBroker.connect("resume-test", topology: [.quorumQueue(queue)])
        let consumer = conn.consume(queue: queue, prefetch: 10)
        try await conn.publish(AMQPMessage(exchange: "", routingKey: queue, body: [1]))
        var iterator = consumer.makeAsyncIterator()
        let first = try await iterator.next()
        #expect(first?.body == [1])
        first?.ack()
        try TestBroker.rabbitmqctl("stop_app")
        try TestBroker.rabbitmqctl("start_app")
        try await conn.waitUntilConnected(timeout: .seconds(60))
        try await conn.publish(AMQPMessage(exchange: "", routingKey: queue, body: [2]))
        let second = try await iterator.next()
        #expect(second?.body == [2])
        // A delivery of the old connection can no longer be acked: the broker will deliver it again.
        #expect(first?.ack() == false)
        second?.ack()
        try await conn.deleteQueue(queue)
        await conn.close()
    }

    @Test func memoryAlarmBlocksPublishingFastAndRecovers() async throws {
        let queue = TestBroker.unique("blocked")
        let conn = try await TestBroker.connect("blocked-test", topology: [.quorumQueue(queue)])
        try TestBroker.rabbitmqctl("set_vm_memory_high_watermark", "0")
        defer { _ = try? TestBroker.rabbitmqctl("set_vm_memory_high_watermark", "0.4") }
        // The broker tells a connection it is blocked when it next publishes.
        _ = try? await conn.publish(AMQPMessage(exchange: "", routingKey: queue, body: [0]), timeout: .seconds(2))
        #expect(
            try await eventually(timeout: .seconds(10)) {
                if case .blocked = conn.status { return true }
                return false
            })
        let start = ContinuousClock.now
        do {
            try await conn.publish(AMQPMessage(exchange: "", routingKey: queue, body: [1]))
            Issue.record("publish succeeded while the broker was blocked")
        } catch let error as AMQPError {
            #expect(error.code == .blocked)
        }
        #expect(ContinuousClock.now - start < .milliseconds(100))
        try TestBroker.rabbitmqctl("set_vm_memory_high_watermark", "0.4")
        #expect(try await eventually { conn.status == .ready })
        try await conn.publish(AMQPMessage(exchange: "", routingKey: queue, body: [2]), timeout: .seconds(5))
        try await conn.deleteQueue(queue)
        await conn.close()
    }
}
