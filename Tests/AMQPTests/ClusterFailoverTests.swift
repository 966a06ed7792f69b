import Foundation
import NetworkFaults
import StockwireTestSupport
import Testing

@testable import AMQP

/// A broker URL list names the nodes of one cluster.
@Suite struct ClusterFailoverTests {
    @Test func aURLListNamesTheNodesOfOneCluster() throws {
        let c = try AMQPConfiguration(
            url: "amqp://sw:s%40cret@10.0.0.11:5672/shop, amqp://sw@10.0.0.12:5673/shop,amqp://10.0.0.13/shop")
        #expect(c.endpoints.map(\.description) == ["10.0.0.11:5672", "10.0.0.12:5673", "10.0.0.13:5672"])
        #expect((c.user, c.password, c.virtualHost) == ("sw", "s@cret", "shop"))
        #expect(c.redactedURL == "amqp://sw@10.0.0.11:5672,10.0.0.12:5673,10.0.0.13:5672/shop")
        #expect(!c.redactedURL.contains("cret"))
        #expect(try AMQPConfiguration(url: "amqp://h:1/").alternates.isEmpty)
        #expect(c.replicas == 3, "a list of three nodes keeps every queue on three")
        #expect(try AMQPConfiguration(url: "amqp://h:1/").replicas == nil, "one node: the broker's default")

        for bad in [
            "amqp://a/x,amqp://b/y",  // another virtual host
            "amqp://u@a/,amqp://v@b/",  // another user
            "amqp://u:p@a/,amqp://u:q@b/",  // another password
            "amqp://a:5672/,amqp://a:5672/",  // a node twice
            "amqp://a/,",  // an empty element
            "amqp://a/,http://b/",
        ] {
            #expect(throws: AMQPError.self, "\(bad)") { try AMQPConfiguration(url: bad) }
        }
    }
}

/// The client on a cluster: it goes to the next node when it loses one, and declares queues on every node (the test
/// broker behind proxies that play the nodes).
@Suite struct ClusterFailoverIntegrationTests {
    /// Two "nodes" (proxies in front of the one test broker) and one that refuses (nothing listens on port 1): the
    /// client starts on a random node and skips the one that refuses; when every node but B goes away, it carries on
    /// through B, publishes confirmed.
    @Test func theClientFailsOverToTheNextNodeThatAnswers() async throws {
        let broker = TestBroker.endpoint
        let nodeA = try TCPProxy(targetHost: broker.host, targetPort: broker.port)
        let nodeB = try TCPProxy(targetHost: broker.host, targetPort: broker.port)
        defer { nodeB.stop() }
        let queue = TestBroker.unique("failover")
        var config = try AMQPConfiguration(url: TestBroker.url, connectionName: "failover-test")
        config.host = "127.0.0.1"
        config.port = 1
        config.alternates = [.init(host: "127.0.0.1", port: nodeA.port), .init(host: "127.0.0.1", port: nodeB.port)]
        config.reconnectDelay = .milliseconds(100)
        config.reconnectMaxDelay = .seconds(1)
        let conn = AMQPConnection(configuration: config, topology: [.quorumQueue(queue)], logger: TestBroker.logger)
        conn.start()
        try await conn.waitUntilConnected(timeout: .seconds(10))
        try await conn.publish(AMQPMessage(exchange: "", routingKey: queue, body: [1]), timeout: .seconds(10))

        // A goes away; whichever node served the client, its connection is cut.
        let lost = conn.connectionsLost
        nodeA.stop()
        let cut = nodeA.reset() + nodeB.reset()
        #expect(cut >= 1, "the client was connected through one of the two nodes")
        #expect(try await eventually(timeout: .seconds(10)) { conn.connectionsLost > lost })
        try await conn.waitUntilConnected(timeout: .seconds(10))
        try await conn.publish(AMQPMessage(exchange: "", routingKey: queue, body: [2]), timeout: .seconds(10))
        #expect(try await conn.queueInfo(queue).messages == 2)
        #expect(nodeA.reset() == 0, "nothing reaches a node that went away")
        try await conn.deleteQueue(queue)
        await conn.close()
    }

    @Test func quorumQueuesAndStreamsAreDeclaredOnTheReplicaCount() async throws {
        let quorum = AMQPTopology.quorumQueue("q", deadLetterExchange: "dead")
        guard case .queue(_, let args) = quorum.replicated(3) else { Issue.record("not a queue"); return }
        #expect(args["x-quorum-initial-group-size"] == .int64(3))
        #expect(args["x-dead-letter-exchange"] == .string("dead"))
        guard case .queue(_, let streamArgs) = AMQPTopology.stream("s", maxAge: "7D", maxLengthBytes: 1).replicated(3) else {
            Issue.record("not a queue")
            return
        }
        #expect(streamArgs["x-initial-cluster-size"] == .int64(3))
        let classic = AMQPTopology.queue(name: "c", arguments: ["x-queue-type": "classic"])
        #expect(classic.replicated(3) == classic)
        #expect(quorum.replicated(nil) == quorum)

        // A single node takes the count (it keeps the one replica it can): the same settings serve a laptop.
        let queue = TestBroker.unique("replicas")
        var config = try AMQPConfiguration(url: TestBroker.url, connectionName: "replicas-test")
        config.replicas = 3
        let conn = AMQPConnection(configuration: config, topology: [.quorumQueue(queue)], logger: TestBroker.logger)
        conn.start()
        try await conn.waitUntilConnected(timeout: .seconds(10))
        try await conn.deleteQueue(queue)
        await conn.close()
    }
}
