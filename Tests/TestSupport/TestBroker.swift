import AMQP
import Foundation
import Logging

/// The RabbitMQ the tests use: `STOCKWIRE_TEST_AMQP_URL`, else the one `deploy/local` starts on loopback.
public enum TestBroker {
    /// Its URL. Only integration tests may ask (``IntegrationTests``).
    public static var url: String {
        IntegrationTests.require("RabbitMQ")
        return ProcessInfo.processInfo.environment["STOCKWIRE_TEST_AMQP_URL"] ?? "amqp://guest:guest@127.0.0.1:5672/"
    }

    /// The broker's host and port.
    public static var endpoint: (host: String, port: Int) {
        let c = try? AMQPConfiguration(url: url)
        return (c?.host ?? "127.0.0.1", c?.port ?? 5672)
    }

    /// A quiet logger for test connections (warnings and errors only).
    public static var logger: Logger { logger("stockwire-tests") }

    /// A logger labelled `label` that lets through `level` and above.
    public static func logger(_ label: String, level: Logger.Level = .warning) -> Logger {
        var l = Logger(label: label)
        l.logLevel = level
        return l
    }

    /// The configuration of a test connection: its first reconnect after 100 ms, later ones at most
    /// `reconnectMaxDelay` apart (the library's default when nil); through a proxy on 127.0.0.1:`port` when given.
    public static func configuration(
        _ name: String, heartbeat: Duration? = nil, port: Int? = nil, reconnectMaxDelay: Duration? = nil
    ) throws -> AMQPConfiguration {
        var config = try AMQPConfiguration(url: url, connectionName: name)
        if let port {
            config.host = "127.0.0.1"
            config.port = port
        }
        config.reconnectDelay = .milliseconds(100)
        if let reconnectMaxDelay { config.reconnectMaxDelay = reconnectMaxDelay }
        if let heartbeat { config.heartbeat = heartbeat }
        return config
    }

    /// A connection declaring `topology` (see ``configuration(_:heartbeat:port:reconnectMaxDelay:)``; reconnects at
    /// most a second apart), started and connected unless `start` is false.
    public static func connect(
        _ name: String = "test", topology: [AMQPTopology] = [], heartbeat: Duration? = nil, port: Int? = nil,
        reconnectMaxDelay: Duration = .seconds(1), start: Bool = true, logger: Logger = TestBroker.logger
    ) async throws -> AMQPConnection {
        let config = try configuration(name, heartbeat: heartbeat, port: port, reconnectMaxDelay: reconnectMaxDelay)
        let c = AMQPConnection(configuration: config, topology: topology, logger: logger)
        if start {
            c.start()
            try await c.waitUntilConnected(timeout: .seconds(30))
        }
        return c
    }

    /// A queue or exchange name no other test (or run) uses: `test.<prefix>.<8 hex digits>`.
    public static func unique(_ prefix: String) -> String {
        "test.\(prefix).\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// Runs `rabbitmqctl` against the test node (`STOCKWIRE_RABBITMQCTL`, else `deploy/local/rabbitmqctl.sh`) and
    /// returns what it printed; throws when it fails.
    @discardableResult
    public static func rabbitmqctl(_ arguments: String...) throws -> String { try rabbitmqctl(arguments) }

    @discardableResult
    public static func rabbitmqctl(_ arguments: [String]) throws -> String {
        IntegrationTests.require("rabbitmqctl")
        let script =
            ProcessInfo.processInfo.environment["STOCKWIRE_RABBITMQCTL"]
            ?? BuildProducts.repository.appendingPathComponent("deploy/local/rabbitmqctl.sh").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [script] + arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard p.terminationStatus == 0 else {
            throw AMQPError(.invalidArgument, "rabbitmqctl \(arguments.joined(separator: " ")) failed: \(text)")
        }
        return text
    }
}
