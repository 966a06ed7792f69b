import Foundation

/// Where and how to connect to RabbitMQ.
public struct AMQPConfiguration: Sendable, Equatable {
    /// Broker host name or address.
    public var host: String
    /// AMQP port.
    public var port: Int
    /// Virtual host.
    public var virtualHost: String
    /// User name.
    public var user: String
    /// Password; never logged.
    public var password: String
    /// Heartbeat interval the client asks for; a peer silent for two intervals is treated as dead.
    public var heartbeat: Duration
    /// How long a TCP connect plus AMQP handshake may take.
    public var connectTimeout: Duration
    /// First wait before reconnecting; doubles on each failure up to ``reconnectMaxDelay``.
    public var reconnectDelay: Duration
    /// Longest wait between reconnect attempts.
    public var reconnectMaxDelay: Duration
    /// Name shown in the broker's connection list (management UI, `rabbitmqctl list_connections`).
    public var connectionName: String
    /// Further nodes of the same cluster, tried in turn when the current one does not answer (a URL list).
    public var alternates: [Endpoint] = []
    /// Nodes every quorum queue and stream this connection declares is replicated on (`x-quorum-initial-group-size`,
    /// `x-initial-cluster-size`); nil leaves it to the broker. A URL list sets it to the number of its nodes. It is
    /// fixed when a queue is first declared: RabbitMQ refuses to redeclare a queue with another value.
    public var replicas: Int?

    /// One broker node.
    public struct Endpoint: Sendable, Equatable, CustomStringConvertible {
        public var host: String
        public var port: Int
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    /// Every node to try, the URL's first.
    public var endpoints: [Endpoint] { [Endpoint(host: host, port: port)] + alternates }

    /// Creates a configuration; the defaults fit a broker on loopback.
    public init(
        host: String = "127.0.0.1", port: Int = 5672, virtualHost: String = "/", user: String = "guest",
        password: String = "guest", heartbeat: Duration = .seconds(10), connectTimeout: Duration = .seconds(5),
        reconnectDelay: Duration = .milliseconds(200), reconnectMaxDelay: Duration = .seconds(5),
        connectionName: String = "stockwire"
    ) {
        self.host = host
        self.port = port
        self.virtualHost = virtualHost
        self.user = user
        self.password = password
        self.heartbeat = heartbeat
        self.connectTimeout = connectTimeout
        self.reconnectDelay = reconnectDelay
        self.reconnectMaxDelay = reconnectMaxDelay
        self.connectionName = connectionName
    }

    /// Parses an AMQP URI, `amqp://user:password@host:port/vhost` (vhost percent-encoded; `/` when empty), or a
    /// comma-separated list of them naming the nodes of one cluster: the same user and virtual host in each (a
    /// password given once serves all). The client connects to the first node that answers and, when it loses it,
    /// tries the others in turn.
    public init(url: String, connectionName: String = "stockwire") throws {
        let parts = url.split(separator: ",", omittingEmptySubsequences: false).map {
            String($0).trimmingCharacters(in: .whitespaces)
        }
        guard let firstURL = parts.first else { throw AMQPError(.invalidArgument, "broker URL is empty") }
        let first = try Self.parse(firstURL, position: parts.count > 1 ? 1 : nil)
        self.init(
            host: first.host, port: first.port, virtualHost: first.vhost, user: first.user ?? "guest",
            password: first.password ?? "guest", connectionName: connectionName)
        for (i, text) in parts.enumerated().dropFirst() {
            let node = try Self.parse(text, position: i + 1)
            guard node.vhost == virtualHost, (node.user ?? user) == user, node.password == nil || node.password == password else {
                throw AMQPError(
                    .invalidArgument,
                    "broker URL \(i + 1) of the list names another user, password or virtual host than the first: the list names the nodes of one cluster")
            }
            alternates.append(Endpoint(host: node.host, port: node.port))
        }
        let all = endpoints
        if Set(all.map(\.description)).count != all.count {
            throw AMQPError(.invalidArgument, "broker URL list names a node twice")
        }
        if all.count > 1 { replicas = all.count }
    }

    private static func parse(_ url: String, position: Int?) throws
        -> (host: String, port: Int, vhost: String, user: String?, password: String?)
    {
        let which = position.map { "broker URL \($0) of the list" } ?? "broker URL"
        guard let components = URLComponents(string: url), components.scheme == "amqp" else {
            throw AMQPError(
                .invalidArgument, "\(which) must look like amqp://user:password@host:5672/vhost (amqps is not supported)")
        }
        guard let host = components.host, !host.isEmpty else {
            throw AMQPError(.invalidArgument, "\(which) has no host: expected amqp://user:password@host:5672/")
        }
        var vhost = components.percentEncodedPath
        if vhost.hasPrefix("/") { vhost.removeFirst() }
        vhost = vhost.removingPercentEncoding ?? vhost
        return (
            host, components.port ?? 5672, vhost.isEmpty ? "/" : vhost, components.user?.removingPercentEncoding,
            components.password?.removingPercentEncoding
        )
    }

    /// The broker address without credentials, safe to log.
    public var redactedURL: String {
        let vhost = virtualHost == "/" ? "" : virtualHost
        return "amqp://\(user)@\(endpoints.map(\.description).joined(separator: ","))/\(vhost)"
    }

    /// One node's address without credentials, safe to log.
    public func redactedURL(_ endpoint: Endpoint) -> String {
        "amqp://\(user)@\(endpoint)/\(virtualHost == "/" ? "" : virtualHost)"
    }
}
