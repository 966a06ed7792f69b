import AMQP
import Foundation

/// Broker settings every service shares, resolved from flags, then environment, then defaults.
public struct BrokerSettings: Sendable {
    /// The broker URL (`STOCKWIRE_AMQP_URL`, default `amqp://guest:guest@127.0.0.1:5672/`).
    public var url: String
    /// A file whose content replaces the URL's password (`STOCKWIRE_AMQP_PASSWORD_FILE`).
    public var passwordFile: String?

    /// Resolves settings: an explicit value wins over the environment, which wins over the default.
    public init(url: String?, passwordFile: String?) {
        self.url = url ?? Environment.string("STOCKWIRE_AMQP_URL") ?? "amqp://guest:guest@127.0.0.1:5672/"
        self.passwordFile = passwordFile ?? Environment.string("STOCKWIRE_AMQP_PASSWORD_FILE")
    }

    /// The connection configuration; errors name the setting.
    public func configuration(connectionName: String) throws -> AMQPConfiguration {
        var config: AMQPConfiguration
        do {
            config = try AMQPConfiguration(url: url, connectionName: connectionName)
        } catch let error as AMQPError {
            throw ConfigurationError("STOCKWIRE_AMQP_URL / --amqp-url: \(error.message)")
        }
        if let passwordFile { config.password = try Environment.secret(file: passwordFile, purpose: "broker password") }
        if let replicas = try Environment.int("STOCKWIRE_AMQP_REPLICAS") {
            guard (1...9).contains(replicas) else {
                throw ConfigurationError("STOCKWIRE_AMQP_REPLICAS=\(replicas) must be 1…9 (the nodes each queue is kept on)")
            }
            config.replicas = replicas
        }
        return config
    }

    /// The broker address without credentials, for logs.
    public var redactedURL: String {
        (try? AMQPConfiguration(url: url).redactedURL) ?? "(invalid broker URL)"
    }

    /// The help text for the broker options, shared by every executable.
    public static let urlHelp =
        "RabbitMQ URL amqp://user:password@host:port/vhost, or a comma-separated list of a cluster's nodes: queues are then declared on that many nodes (env STOCKWIRE_AMQP_URL; default amqp://guest:guest@127.0.0.1:5672/; STOCKWIRE_AMQP_REPLICAS overrides the count)."
    /// Help for the password file option.
    public static let passwordFileHelp =
        "File holding the broker password, overriding the URL's (env STOCKWIRE_AMQP_PASSWORD_FILE)."
}
