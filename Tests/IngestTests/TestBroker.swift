import AMQP
import Foundation
import Logging
import Synchronization

/// The broker the tests use: the one `deploy/local` started, or `STOCKWIRE_TEST_AMQP_URL`.
enum TestBroker {
    static var url: String {
        ProcessInfo.processInfo.environment["STOCKWIRE_TEST_AMQP_URL"] ?? "amqp://guest:guest@127.0.0.1:5672/"
    }

    static var logger: Logger {
        var l = Logger(label: "ingest-tests")
        l.logLevel = .error
        return l
    }

    /// A connection with a fast reconnect declaring `topology`; not started unless `start` is true.
    static func connection(_ name: String, topology: [AMQPTopology], start: Bool) async throws -> AMQPConnection {
        var config = try AMQPConfiguration(url: url, connectionName: name)
        config.reconnectDelay = .milliseconds(100)
        config.reconnectMaxDelay = .milliseconds(500)
        let c = AMQPConnection(configuration: config, topology: topology, logger: logger)
        if start {
            c.start()
            try await c.waitUntilConnected(timeout: .seconds(30))
        }
        return c
    }

    /// A name no other test run uses.
    static func unique(_ prefix: String) -> String {
        "test.ingest.\(prefix).\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// Runs `rabbitmqctl` against the test node (`STOCKWIRE_RABBITMQCTL`, else `deploy/local/rabbitmqctl.sh`).
    @discardableResult
    static func rabbitmqctl(_ arguments: String...) throws -> String { try rabbitmqctl(arguments) }

    @discardableResult
    static func rabbitmqctl(_ arguments: [String]) throws -> String {
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
func eventually(timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}

/// Runs blocking work (raw sockets) on a thread of its own, never on the Swift concurrency pool.
func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { c in
        let thread = Thread { c.resume(returning: body()) }
        thread.stackSize = 1 << 20
        thread.start()
    }
}
