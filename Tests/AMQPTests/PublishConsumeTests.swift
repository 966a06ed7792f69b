import Foundation
import NetworkFaults
import StockwireTestSupport
import Testing

@testable import AMQP

@Suite struct PublishConsumeIntegrationTests {
    @Test func tenThousandConfirmedMessagesAreConsumedExactlyOnce() async throws {
        let queue = TestBroker.unique("bulk")
        let conn = try await TestBroker.connect(topology: [.quorumQueue(queue)])
        defer {
            Task {
                try? await conn.deleteQueue(queue); await conn.close()
            }
        }

        let total = 10_000
        let body = [UInt8](repeating: 0x61, count: 1024)
        try await withThrowingTaskGroup(of: Void.self) { group in
            // 100 publishers in parallel: many confirms in flight, like ingest under load.
            for worker in 0..<100 {
                group.addTask {
                    for i in stride(from: worker, to: total, by: 100) {
                        var props = AMQPProperties(contentType: "application/octet-stream", messageId: "m\(i)")
                        props.headers["n"] = .int64(Int64(i))
                        try await conn.publish(
                            AMQPMessage(exchange: "", routingKey: queue, body: body, properties: props))
                    }
                }
            }
            try await group.waitForAll()
        }

        var seen = Set<String>()
        var duplicates = 0
        var refusedAcks = 0
        for try await delivery in conn.consume(queue: queue, prefetch: 500) {
            #expect(delivery.body == body)
            #expect(delivery.properties.persistent)
            let id = delivery.properties.messageId ?? "?"
            if !seen.insert(id).inserted { duplicates += 1 }
            if !delivery.ack() { refusedAcks += 1 }
            if seen.count == total { break }
        }
        #expect(duplicates == 0)
        #expect(refusedAcks == 0)
        #expect(seen == Set((0..<total).map { "m\($0)" }))
        // Nothing extra is left behind once every ack reached the broker.
        let drained = try await eventually { try await conn.queueInfo(queue).messages == 0 }
        if !drained {
            let left = try await conn.queueInfo(queue).messages
            var leftovers: [String] = []
            for try await d in conn.consume(queue: queue, prefetch: 100) {
                leftovers.append("\(d.properties.messageId ?? "?") redelivered=\(d.redelivered) count=\(d.deliveryCount)")
                d.ack()
                if leftovers.count >= Int(left) { break }
            }
            Issue.record("left in the queue: \(left): \(leftovers.prefix(10))")
        }
    }

    @Test func unroutableMandatoryPublishIsReported() async throws {
        let exchange = TestBroker.unique("nowhere")
        let conn = try await TestBroker.connect(topology: [.exchange(name: exchange, kind: .topic)])
        defer {
            Task {
                try? await conn.deleteExchange(exchange); await conn.close()
            }
        }
        await #expect(throws: AMQPError.self) {
            try await conn.publish(
                AMQPMessage(exchange: exchange, routingKey: "no.queue", body: [1], properties: .init(messageId: "x")))
        }
        do {
            try await conn.publish(AMQPMessage(exchange: exchange, routingKey: "no.queue", body: [1]))
            Issue.record("an unroutable mandatory publish was confirmed")
        } catch let error as AMQPError {
            #expect(error.code == .unroutable)
        }
        // The connection stays usable: a routable message afterwards is confirmed.
        let queue = TestBroker.unique("after")
        try await conn.declare([.quorumQueue(queue), .binding(queue: queue, exchange: exchange, routingKey: "#")])
        try await conn.publish(AMQPMessage(exchange: exchange, routingKey: "x", body: [2]))
        #expect(try await eventually { try await conn.queueInfo(queue).messages == 1 })
        try await conn.deleteQueue(queue)
    }

    @Test func publishToMissingExchangeFailsAndChannelRecovers() async throws {
        let queue = TestBroker.unique("recover")
        let conn = try await TestBroker.connect(topology: [.quorumQueue(queue)])
        defer {
            Task {
                try? await conn.deleteQueue(queue); await conn.close()
            }
        }
        do {
            try await conn.publish(AMQPMessage(exchange: "no-such-exchange-\(UUID())", routingKey: "x", body: [1]))
            Issue.record("publish to a missing exchange was confirmed")
        } catch let error as AMQPError {
            #expect(error.code == .channelClosed)
            #expect(error.replyCode == 404)
        }
        try await conn.publish(AMQPMessage(exchange: "", routingKey: queue, body: [1]))
        #expect(try await conn.queueInfo(queue).messages == 1)
    }

    @Test func declaringAnExistingQueueWithOtherArgumentsIsAClearError() async throws {
        let queue = TestBroker.unique("mismatch")
        let conn = try await TestBroker.connect(topology: [.quorumQueue(queue)])
        defer {
            Task {
                try? await conn.deleteQueue(queue); await conn.close()
            }
        }
        do {
            try await conn.declare([.queue(name: queue, arguments: ["x-queue-type": "classic"])])
            Issue.record("a conflicting declare succeeded")
        } catch let error as AMQPError {
            #expect(error.code == .channelClosed)
            #expect(error.replyCode == 406)
            #expect(error.message.contains(queue))
        }
        #expect(try await conn.queueInfo(queue).consumers == 0)
    }

    @Test func rejectedMessageIsDeadLetteredWithItsReason() async throws {
        let dead = TestBroker.unique("dead")
        let deadQueue = dead + ".q"
        let queue = TestBroker.unique("work")
        let conn = try await TestBroker.connect(topology: [
            .exchange(name: dead, kind: .topic), .quorumQueue(deadQueue),
            .binding(queue: deadQueue, exchange: dead, routingKey: "#"),
            .quorumQueue(queue, deadLetterExchange: dead, deliveryLimit: 3),
        ])
        defer {
            Task {
                try? await conn.deleteQueue(queue)
                try? await conn.deleteQueue(deadQueue)
                try? await conn.deleteExchange(dead)
                await conn.close()
            }
        }
        try await conn.publish(
            AMQPMessage(exchange: "", routingKey: queue, body: Array("poison".utf8), properties: .init(messageId: "p1")))
        for try await d in conn.consume(queue: queue, prefetch: 1) {
            d.reject(requeue: false)
            break
        }
        var reason: String?
        for try await d in conn.consume(queue: deadQueue, prefetch: 1) {
            #expect(d.properties.messageId == "p1")
            #expect(d.body == Array("poison".utf8))
            if case .array(let deaths)? = d.properties.headers["x-death"], case .table(let first)? = deaths.first {
                reason = first["reason"]?.stringValue
            }
            d.ack()
            break
        }
        #expect(reason == "rejected")
    }

    @Test func messageRedeliveredPastTheDeliveryLimitIsDeadLettered() async throws {
        let dead = TestBroker.unique("dead")
        let deadQueue = dead + ".q"
        let queue = TestBroker.unique("limit")
        let conn = try await TestBroker.connect(topology: [
            .exchange(name: dead, kind: .topic), .quorumQueue(deadQueue),
            .binding(queue: deadQueue, exchange: dead, routingKey: "#"),
            .quorumQueue(queue, deadLetterExchange: dead, deliveryLimit: 2),
        ])
        defer {
            Task {
                try? await conn.deleteQueue(queue)
                try? await conn.deleteQueue(deadQueue)
                try? await conn.deleteExchange(dead)
                await conn.close()
            }
        }
        try await conn.publish(
            AMQPMessage(exchange: "", routingKey: queue, body: [7], properties: .init(messageId: "again")))
        // A handler that always fails: nack with requeue until the broker gives up on it.
        let consumer = conn.consume(queue: queue, prefetch: 1)
        let failing = Task {
            var attempts = 0
            for try await d in consumer {
                attempts += 1
                d.nack(requeue: true)
            }
            return attempts
        }
        var reason: String?
        for try await d in conn.consume(queue: deadQueue, prefetch: 1) {
            #expect(d.properties.messageId == "again")
            if case .array(let deaths)? = d.properties.headers["x-death"], case .table(let first)? = deaths.first {
                reason = first["reason"]?.stringValue
            }
            d.ack()
            break
        }
        consumer.cancel()
        let attempts = try await failing.value
        #expect(reason == "delivery_limit")
        #expect(attempts == 3)
        #expect(try await conn.queueInfo(queue).messages == 0)
    }

    @Test func consumerPrefetchBoundsUnackedDeliveries() async throws {
        let queue = TestBroker.unique("prefetch")
        let conn = try await TestBroker.connect(topology: [.quorumQueue(queue)])
        defer {
            Task {
                try? await conn.deleteQueue(queue); await conn.close()
            }
        }
        for i in 0..<50 {
            try await conn.publish(AMQPMessage(exchange: "", routingKey: queue, body: [UInt8(i)]))
        }
        var held: [AMQPDelivery] = []
        let consumer = conn.consume(queue: queue, prefetch: 10)
        var iterator = consumer.makeAsyncIterator()
        for _ in 0..<10 { if let d = try await iterator.next() { held.append(d) } }
        // With ten unacked, the broker sends no more: the rest waits in the queue, not in our memory. The barrier is
        // one more message, confirmed: the queue has taken a message since the ten went out, and a quorum queue hands
        // what it holds to every consumer with credit left whenever it takes one, so all 41 are still there.
        try await conn.publish(AMQPMessage(exchange: "", routingKey: queue, body: [50]))
        #expect(try await conn.queueInfo(queue).messages == 41)
        held.last?.ack(multiple: true)
        #expect(try await eventually { try await conn.queueInfo(queue).messages == 31 })
        consumer.cancel()
    }

    @Test func confirmDeadlineIsReportedAsTimeout() async throws {
        // A deadline of zero cannot be met, but the message must still reach the queue: a timeout means
        // "unknown", never "lost".
        let queue = TestBroker.unique("deadline")
        let conn = try await TestBroker.connect(topology: [.quorumQueue(queue)])
        defer {
            Task {
                try? await conn.deleteQueue(queue); await conn.close()
            }
        }
        do {
            try await conn.publish(AMQPMessage(exchange: "", routingKey: queue, body: [1]), timeout: .zero)
            Issue.record("a zero deadline was met")
        } catch let error as AMQPError {
            #expect(error.code == .confirmTimeout)
        }
        #expect(try await eventually { try await conn.queueInfo(queue).messages == 1 })
        try await conn.publish(AMQPMessage(exchange: "", routingKey: queue, body: [2]), timeout: .seconds(5))
    }

    /// A delivery knows whether its subscription still stands: after a reconnect the consumer subscribes anew, the
    /// broker puts the unacknowledged delivery back, and the old delivery is no longer live (its holder must stop
    /// acting on it: with a single active consumer another instance may own the queue now).
    @Test func aDeliveryOfASubscriptionLostInAReconnectIsNoLongerLive() async throws {
        let queue = TestBroker.unique("lease")
        let broker = TestBroker.endpoint
        let proxy = try TCPProxy(targetHost: broker.host, targetPort: broker.port)
        defer { proxy.stop() }
        let conn = try await TestBroker.connect("lease-test", topology: [.quorumQueue(queue)], port: proxy.port)
        let consumer = conn.consume(queue: queue, prefetch: 10)
        try await conn.publish(AMQPMessage(exchange: "", routingKey: queue, body: [7]), timeout: .seconds(5))
        var iterator = consumer.makeAsyncIterator()
        let first = try #require(try await iterator.next())
        #expect(first.isLive)
        #expect(consumer.subscription == first.subscription)
        #expect(proxy.reset() > 0)
        #expect(try await eventually { !first.isLive })
        let again = try #require(try await iterator.next())
        #expect(again.body == [7] && again.redelivered)
        #expect(again.isLive && !first.isLive)
        #expect(again.subscription != first.subscription && consumer.subscription == again.subscription)
        #expect(!first.ack(), "an ack of the old subscription is refused")
        #expect(again.ack())
        consumer.cancel()
        try await conn.deleteQueue(queue)
        await conn.close()
    }

    /// A connection reset under a stream of publishes: every publish is answered — confirmed, or failed so that the
    /// caller can retry — and none is left waiting. The worker once dropped the publishes it had taken from the
    /// mailbox together with the one that met the dead socket: their callers waited for ever (a calculator stuck
    /// in its batch loop, an ingest request never answered), with or without a confirm deadline.
    @Test func everyPublishIsAnsweredWhenTheConnectionIsResetUnderLoad() async throws {
        let queue = TestBroker.unique("reset")
        let broker = TestBroker.endpoint
        let proxy = try TCPProxy(targetHost: broker.host, targetPort: broker.port)
        defer { proxy.stop() }
        let conn = try await TestBroker.connect("reset-test", topology: [.quorumQueue(queue)], port: proxy.port)
        let called = Shared(0)
        let answered = Shared(0)
        let failed = Shared(0)
        let stop = Shared(false)
        // Many publishers without pause: the I/O thread takes several publishes from its mailbox at a time, so the
        // reset lands in the middle of such a batch.
        for _ in 0..<32 {
            Task {
                while !stop.value {
                    called.update { $0 += 1 }
                    do {
                        try await conn.publish(AMQPMessage(exchange: "", routingKey: queue, body: [1]), timeout: .seconds(30))
                    } catch {
                        failed.update { $0 += 1 }
                        try? await Task.sleep(for: .milliseconds(5))
                    }
                    answered.update { $0 += 1 }
                }
            }
        }
        var resets = 0
        for _ in 0..<10 {
            let before = answered.value
            #expect(try await eventually(timeout: .seconds(30)) { conn.status == .ready && answered.value > before + 200 })
            let lost = conn.connectionsLost
            let reset = proxy.reset()
            resets += reset
            // The loss is noticed (the reconnect can be quicker than a poll of `status`).
            if reset > 0 { #expect(try await eventually(timeout: .seconds(30)) { conn.connectionsLost > lost }) }
        }
        stop.update { $0 = true }
        let settled = try await eventually(timeout: .seconds(40)) { answered.value == called.value }
        #expect(resets >= 10, "the proxy reset \(resets) connections")
        #expect(failed.value > 0, "a reset under load must fail some publishes")
        #expect(settled, "\(called.value - answered.value) of \(called.value) publishes never answered after \(resets) resets")
        if settled {
            try await conn.waitUntilConnected(timeout: .seconds(30))
            try await conn.deleteQueue(queue)
            await conn.close()
        }
    }

    @Test func wrongPasswordIsAClearConnectionError() async throws {
        var config = try AMQPConfiguration(url: TestBroker.url)
        config.password = "definitely-wrong"
        let conn = AMQPConnection(configuration: config, logger: TestBroker.logger)
        conn.start()
        do {
            try await conn.waitUntilConnected(timeout: .seconds(2))
            Issue.record("connected with a wrong password")
        } catch let error as AMQPError {
            #expect(error.code == .notConnected)
            #expect(error.message.contains("login"))
            #expect(!error.message.contains("definitely-wrong"))
        }
        await conn.close()
    }
}

/// A broker URL, read without a broker.
@Suite struct BrokerURLTests {
    @Test func brokerURLIsParsedAndRedacted() throws {
        let c = try AMQPConfiguration(url: "amqp://user:s%40cret@broker.local:5673/shop%2Fvhost")
        #expect(c.host == "broker.local")
        #expect(c.port == 5673)
        #expect(c.user == "user")
        #expect(c.password == "s@cret")
        #expect(c.virtualHost == "shop/vhost")
        #expect(!c.redactedURL.contains("cret"))
        #expect(throws: AMQPError.self) { try AMQPConfiguration(url: "http://x") }
        #expect(try AMQPConfiguration(url: "amqp://h").virtualHost == "/")
    }
}
