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

    /// Parses an AMQP URI, `amqp://user:password@host:port/vhost` (vhost percent-encoded; `/` when empty).
    public init(url: String, connectionName: String = "stockwire") throws {
        guard let components = URLComponents(string: url), components.scheme == "amqp" else {
            throw AMQPError(
                .invalidArgument, "broker URL must look like amqp://user:password@host:5672/vhost (amqps is not supported)")
        }
        guard let host = components.host, !host.isEmpty else {
            throw AMQPError(.invalidArgument, "broker URL has no host: expected amqp://user:password@host:5672/")
        }
        var vhost = components.percentEncodedPath
        if vhost.hasPrefix("/") { vhost.removeFirst() }
        vhost = vhost.removingPercentEncoding ?? vhost
        self.init(
            host: host, port: components.port ?? 5672, virtualHost: vhost.isEmpty ? "/" : vhost,
            user: components.user?.removingPercentEncoding ?? "guest",
            password: components.password?.removingPercentEncoding ?? "guest", connectionName: connectionName)
    }

    /// The broker address without credentials, safe to log.
    public var redactedURL: String {
        let vhost = virtualHost == "/" ? "" : virtualHost
        return "amqp://\(user)@\(host):\(port)/\(vhost)"
    }
}
