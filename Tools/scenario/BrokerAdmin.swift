import AMQP
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import ScenarioReports
import Toolbox

/// The local RabbitMQ node's management HTTP API (deploy/local: 127.0.0.1:`$STOCKWIRE_MGMT_PORT`, default 15672,
/// user guest): a virtual host per fault run, queue counts and dead letters for the checker.
struct BrokerAdmin: Sendable {
    var baseURL: String
    var user: String
    var password: String

    /// The node deploy/local starts, with the credentials of `$STOCKWIRE_AMQP_URL` (default guest/guest).
    private var amqp: AMQPConfiguration? {
        try? AMQPConfiguration(url: LocalServers.amqpURL)
    }

    static func local() -> BrokerAdmin {
        let port = ProcessInfo.processInfo.environment["STOCKWIRE_MGMT_PORT"] ?? "15672"
        let amqp = try? AMQPConfiguration(url: LocalServers.amqpURL)
        return BrokerAdmin(
            baseURL: "http://\(amqp?.host ?? "127.0.0.1"):\(port)/api", user: amqp?.user ?? "guest",
            password: amqp?.password ?? "guest")
    }

    /// `$STOCKWIRE_AMQP_URL` (default `amqp://guest:guest@127.0.0.1:5672/`) with its virtual host replaced; every
    /// node of a cluster's URL list, or, with `port`, one proxy on 127.0.0.1.
    static func amqpURL(virtualHost: String, port: Int? = nil) -> String {
        let amqp = local().amqp
        let user = amqp?.user ?? "guest", password = amqp?.password ?? "guest"
        let endpoints =
            port.map { [AMQPConfiguration.Endpoint(host: "127.0.0.1", port: $0)] }
            ?? amqp?.endpoints ?? [.init(host: "127.0.0.1", port: 5672)]
        return endpoints.map { "amqp://\(user):\(password)@\($0)/\(encode(virtualHost))" }.joined(separator: ",")
    }

    /// The broker's host and AMQP port (`$STOCKWIRE_AMQP_URL`, default 127.0.0.1:5672).
    static var amqpEndpoint: (host: String, port: Int) {
        let amqp = local().amqp
        return (amqp?.host ?? "127.0.0.1", Int(amqp?.port ?? 5672))
    }

    // MARK: - Virtual hosts

    /// Creates a virtual host and gives this user every permission in it.
    func createVirtualHost(_ name: String) async throws {
        let (status, body) = try await request(.PUT, "/vhosts/\(Self.encode(name))", json: "{}")
        guard (200..<300).contains(status) else {
            throw ScenarioError("RabbitMQ management API: creating virtual host \(name) answered \(status) \(body)")
        }
        let permissions = #"{"configure":".*","write":".*","read":".*"}"#
        let (granted, text) = try await request(
            .PUT, "/permissions/\(Self.encode(name))/\(Self.encode(user))", json: permissions)
        guard (200..<300).contains(granted) else {
            throw ScenarioError("RabbitMQ management API: permissions on \(name) answered \(granted) \(text)")
        }
    }

    /// Deletes a virtual host and everything in it (best effort).
    func deleteVirtualHost(_ name: String) async {
        _ = try? await request(.DELETE, "/vhosts/\(Self.encode(name))")
    }

    // MARK: - Queues

    /// One queue's counts (in ScenarioReports: fault reports list them).
    typealias QueueFigures = ScenarioReports.QueueFigures

    /// Every queue of a virtual host.
    func queues(virtualHost: String) async throws -> [QueueFigures] {
        let (status, body) = try await request(.GET, "/queues/\(Self.encode(virtualHost))")
        guard status == 200, let list = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [[String: Any]] else {
            throw ScenarioError("RabbitMQ management API: queues of \(virtualHost) answered \(status)")
        }
        return list.map { q in
            let stats = q["message_stats"] as? [String: Any] ?? [:]
            func int(_ d: [String: Any], _ key: String) -> Int { (d[key] as? NSNumber)?.intValue ?? 0 }
            return QueueFigures(
                name: q["name"] as? String ?? "", messages: int(q, "messages"),
                unacknowledged: int(q, "messages_unacknowledged"), consumers: int(q, "consumers"),
                published: int(stats, "publish"), delivered: int(stats, "deliver"), acknowledged: int(stats, "ack"),
                redelivered: int(stats, "redeliver"))
        }
    }

    /// Messages clients published into the virtual host's exchanges since it was created (`message_stats.publish`).
    func published(virtualHost: String) async throws -> Int {
        let (status, body) = try await request(.GET, "/vhosts/\(Self.encode(virtualHost))")
        guard status == 200, let vhost = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] else {
            throw ScenarioError("RabbitMQ management API: virtual host \(virtualHost) answered \(status)")
        }
        return ((vhost["message_stats"] as? [String: Any])?["publish"] as? NSNumber)?.intValue ?? 0
    }

    /// A message read from a queue without taking it away.
    struct PeekedMessage: Sendable {
        var messageId: String?
        /// The reason the consumer that dead-lettered it gave (`x-stockwire-reason`), if any.
        var reason: String?
        /// Dead-lettered by the broker itself (delivery limit, rejection): it carries `x-death`.
        var deadLetteredByBroker: Bool
        var payload: String
    }

    /// Up to `count` messages of a queue, requeued after reading (a dead-letter queue has no consumer in a fault run).
    func peek(virtualHost: String, queue: String, count: Int) async throws -> [PeekedMessage] {
        guard count > 0 else { return [] }
        let body = #"{"count":\#(count),"ackmode":"ack_requeue_true","encoding":"auto","truncate":2000}"#
        let (status, text) = try await request(
            .POST, "/queues/\(Self.encode(virtualHost))/\(Self.encode(queue))/get", json: body, timeout: .seconds(30))
        guard status == 200, let list = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]] else {
            throw ScenarioError("RabbitMQ management API: reading \(queue) answered \(status) \(text.prefix(200))")
        }
        return list.map { m in
            let properties = m["properties"] as? [String: Any] ?? [:]
            let headers = properties["headers"] as? [String: Any] ?? [:]
            return PeekedMessage(
                messageId: properties["message_id"] as? String, reason: headers["x-stockwire-reason"] as? String,
                deadLetteredByBroker: headers["x-death"] != nil, payload: m["payload"] as? String ?? "")
        }
    }

    // MARK: - HTTP

    private enum Method { case GET, PUT, POST, DELETE }

    private func request(_ method: Method, _ path: String, json: String? = nil, timeout: TimeAmount = .seconds(10))
        async throws -> (Int, String)
    {
        var request = HTTPClientRequest(url: baseURL + path)
        switch method {
        case .GET: request.method = .GET
        case .PUT: request.method = .PUT
        case .POST: request.method = .POST
        case .DELETE: request.method = .DELETE
        }
        let credentials = Data("\(user):\(password)".utf8).base64EncodedString()
        request.headers.add(name: "Authorization", value: "Basic \(credentials)")
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: timeout)
        let body = try await response.body.collect(upTo: 64 << 20)
        return (Int(response.status.code), String(buffer: body))
    }

    private static func encode(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? s
    }
}

/// Reads a stream from its first message (with the run's own AMQP connection) and returns the message id of every
/// message in it, in order; nil where a message has none. Stops once `expected` messages came and then nothing for
/// `idle` (three times `idle` when fewer came: the broker's count is approximate for a stream). There is no wall
/// clock limit while messages keep coming: a one-hour soak's log holds over half a million, and a reader cut at a
/// fixed minute reported the rest as "applied but never published". It gives up only when nothing came for 30 s.
func readStream(amqpURL: String, stream: String, expected: Int, idle: Duration = .seconds(2)) async throws -> [String?] {
    let connection = try scenarioConnection(amqpURL, purpose: "checker")
    defer { Task { await connection.close() } }
    try await connection.waitUntilConnected(timeout: .seconds(10))
    let consumer = connection.consume(queue: stream, prefetch: 1_000, arguments: ["x-stream-offset": "first"])
    let ids = IdCollector()
    let reader = Task {
        for try await delivery in consumer {
            await ids.add(delivery.properties.messageId)
            delivery.ack()
        }
    }
    // Until every expected message came, and then nothing more for `idle`.
    try await waitUntilQuiet(every: .milliseconds(100), quietFor: { n in n >= expected ? idle : n > 0 ? idle * 3 : .seconds(30) })
    {
        await ids.count
    }
    consumer.cancel()
    reader.cancel()
    return await ids.ids
}

private actor IdCollector {
    var ids: [String?] = []
    var count: Int { ids.count }
    func add(_ id: String?) { ids.append(id) }
}

/// A started AMQP connection of the scenario's own, named after its `purpose`, logging errors only.
func scenarioConnection(_ amqpURL: String, purpose: String) throws -> AMQPConnection {
    var logger = Logger(label: "scenario-\(purpose)")
    logger.logLevel = .error
    let connection = AMQPConnection(
        configuration: try AMQPConfiguration(url: amqpURL, connectionName: "stockwire-scenario \(purpose)"), logger: logger)
    connection.start()
    return connection
}

/// Returns once `count` has not changed for `quietFor(count)`, checked every `tick`: how the scenario's readers
/// of a queue or stream decide that everything came. Throws when cancelled.
func waitUntilQuiet(every tick: Duration, quietFor: (Int) -> Duration, count: () async -> Int) async throws {
    var last = -1
    var quietSince = ContinuousClock.now
    while true {
        try await Task.sleep(for: tick)
        let n = await count()
        if n != last {
            last = n
            quietSince = .now
        } else if ContinuousClock.now - quietSince >= quietFor(n) {
            return
        }
    }
}
