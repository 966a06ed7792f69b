import Foundation
import Logging
import Synchronization
import Testing

@testable import AMQP

/// The broker the tests use: the one `deploy/local` started, or `STOCKWIRE_TEST_AMQP_URL`.
enum TestBroker {
    static var url: String {
        ProcessInfo.processInfo.environment["STOCKWIRE_TEST_AMQP_URL"] ?? "amqp://guest:guest@127.0.0.1:5672/"
    }

    static var logger: Logger {
        var l = Logger(label: "amqp-tests")
        l.logLevel = .warning
        return l
    }

    /// The broker's host and port.
    static var endpoint: (host: String, port: Int) {
        let c = try? AMQPConfiguration(url: url)
        return (c?.host ?? "127.0.0.1", c?.port ?? 5672)
    }

    /// A connected connection with a fast reconnect, declaring `topology`; through a proxy on 127.0.0.1:`port` when
    /// given.
    static func connect(
        _ name: String = "test", topology: [AMQPTopology] = [], heartbeat: Duration = .seconds(10), port: Int? = nil
    ) async throws -> AMQPConnection {
        var config = try AMQPConfiguration(url: url, connectionName: name)
        if let port {
            config.host = "127.0.0.1"
            config.port = port
        }
        config.reconnectDelay = .milliseconds(100)
        config.reconnectMaxDelay = .seconds(1)
        config.heartbeat = heartbeat
        let c = AMQPConnection(configuration: config, topology: topology, logger: logger)
        c.start()
        try await c.waitUntilConnected(timeout: .seconds(30))
        return c
    }

    /// A name no other test run uses.
    static func unique(_ prefix: String) -> String {
        "test.\(prefix).\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// Runs `rabbitmqctl` against the test node (through `deploy/local/rabbitmqctl.sh`).
    @discardableResult
    static func rabbitmqctl(_ arguments: String...) throws -> String {
        let env = ProcessInfo.processInfo.environment
        let script =
            env["STOCKWIRE_RABBITMQCTL"]
            ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("deploy/local/rabbitmqctl.sh").path
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

/// Polls `condition` until it holds or `timeout` passes.
func eventually(
    timeout: Duration = .seconds(20), _ condition: () async throws -> Bool
) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}

/// A value shared between test tasks.
final class Shared<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    var value: Value { mutex.withLock { $0 } }
    func update(_ body: (inout Value) -> Void) { mutex.withLock { body(&$0) } }
}
