import AMQP
import Foundation
import StockwireTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The built `ingest` executable, run as its own process the way an operator runs it: configuration from the
/// environment and secret files, logs on standard error (captured to a file), `/metrics` served by the real
/// Prometheus registry. Tests use it for what an in-process application cannot show: the process's own log output
/// and metrics text, and its resident memory.
///
/// The executable publishes to `stockwire.events`, which is not configurable, so each process gets a RabbitMQ
/// virtual host of its own (``withVirtualHost(_:_:)``): the shared topology other tests and engineers use is never
/// touched.
final class IngestProcess: Sendable {
    let process: Process
    let port: Int
    let logFile: URL

    var pid: Int32 { process.processIdentifier }

    /// Everything the process wrote to standard output and standard error so far.
    var output: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

    /// `ingest` beside the test bundle (the build folder the tests were built into, any `--scratch-path`), else
    /// `.build/debug`.
    static var executable: URL { BuildProducts.executable("ingest") }

    private init(process: Process, port: Int, logFile: URL) {
        self.process = process
        self.port = port
        self.logFile = logFile
    }

    // MARK: - Broker isolation

    /// Runs `body` with the URL of a fresh virtual host on the test broker (guest may use it), deleted afterwards.
    static func withVirtualHost<T>(_ name: String, _ body: (String) async throws -> T) async throws -> T {
        let vhost = "stockwire-test-\(name)-\(UUID().uuidString.prefix(8).lowercased())"
        var components = URLComponents(string: TestBroker.url)!
        let user = components.user ?? "guest"
        try await rabbitmqctl("add_vhost", vhost)
        do {
            try await rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
            components.path = "/" + vhost
            let result = try await body(components.string!)
            try? await rabbitmqctl("delete_vhost", vhost)
            return result
        } catch {
            try? await rabbitmqctl("delete_vhost", vhost)
            throw error
        }
    }

    /// `rabbitmqctl` on a thread of its own (it takes a second or two), never on the concurrency pool.
    private static func rabbitmqctl(_ arguments: String...) async throws {
        _ = try await onThread { Result { try TestBroker.rabbitmqctl(arguments) } }.get()
    }

    // MARK: - Running

    /// Starts ingest with `environment` (added to a minimal one) and waits until it listens and is ready. The port is
    /// read from the server's start line, logged at `info`: `STOCKWIRE_LOG_LEVEL` must be `info` or more verbose.
    static func start(environment: [String: String], arguments: [String] = []) async throws -> IngestProcess {
        let (process, logFile) = try launch(environment: environment, arguments: arguments)
        let ingest = IngestProcess(process: process, port: 0, logFile: logFile)
        func fail(_ reason: String) async -> TestFailure {
            await ingest.stop()
            defer { ingest.removeLog() }
            return TestFailure("ingest \(reason):\n\(ingest.output.suffix(4000))")
        }
        let deadline = ContinuousClock.now + .seconds(30)
        var port: Int?
        while port == nil {
            guard process.isRunning else { throw await fail("exited with \(process.terminationStatus) before listening") }
            guard ContinuousClock.now < deadline else { throw await fail("did not start listening within 30 s") }
            try await Task.sleep(for: .milliseconds(50))
            port = listeningPort(in: ingest.output)
        }
        let started = IngestProcess(process: process, port: port!, logFile: logFile)
        while await started.get("/readyz")?.status != 200 {
            guard ContinuousClock.now < deadline, process.isRunning else { throw await fail("did not become ready") }
            try await Task.sleep(for: .milliseconds(100))
        }
        return started
    }

    /// Runs `body` with a started ingest (see ``start(environment:arguments:)``), which is stopped and its log removed
    /// afterwards, whether `body` returns or throws.
    static func with<T>(environment: [String: String], _ body: (IngestProcess) async throws -> T) async throws -> T {
        let ingest = try await start(environment: environment)
        do {
            let result = try await body(ingest)
            await ingest.stop()
            ingest.removeLog()
            return result
        } catch {
            await ingest.stop()
            ingest.removeLog()
            throw error
        }
    }

    /// Runs ingest expecting it to stop by itself (a configuration error); returns its exit status and output.
    static func runToExit(environment: [String: String], arguments: [String] = []) async throws -> (status: Int32, output: String)
    {
        let (process, logFile) = try launch(environment: environment, arguments: arguments)
        let deadline = ContinuousClock.now + .seconds(20)
        while process.isRunning {
            guard ContinuousClock.now < deadline else {
                process.terminate()
                throw TestFailure("ingest kept running although its configuration is wrong")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        defer { try? FileManager.default.removeItem(at: logFile) }
        return (process.terminationStatus, (try? String(contentsOf: logFile, encoding: .utf8)) ?? "")
    }

    private static func launch(environment: [String: String], arguments: [String]) throws -> (Process, URL) {
        let executable = Self.executable
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            throw TestFailure("no ingest executable at \(executable.path): build it with the tests (swift build --build-tests)")
        }
        let logFile = FileManager.default.temporaryDirectory.appendingPathComponent("ingest-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        let handle = try FileHandle(forWritingTo: logFile)
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var env = ["PATH": "/usr/bin:/bin", "STOCKWIRE_INGEST_HOST": "127.0.0.1", "STOCKWIRE_INGEST_PORT": "0"]
        env.merge(environment) { _, new in new }
        process.environment = env
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        try handle.close()
        return (process, logFile)
    }

    /// The port of Hummingbird's "Server started and listening on 127.0.0.1:<port>" line.
    private static func listeningPort(in log: String) -> Int? {
        guard let range = log.range(of: "listening on 127.0.0.1:") else { return nil }
        return Int(log[range.upperBound...].prefix { $0.isNumber })
    }

    /// Stops the process as an orchestrator would (SIGTERM, graceful shutdown); SIGKILL after 10 s.
    @discardableResult
    func stop() async -> Int32 {
        if process.isRunning { kill(pid, SIGTERM) }
        let deadline = ContinuousClock.now + .seconds(10)
        while process.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
        }
        return process.terminationStatus
    }

    private func removeLog() { try? FileManager.default.removeItem(at: logFile) }

    // MARK: - Inspection

    /// Resident memory now, in KiB (`VmRSS` of /proc/<pid>/status).
    var residentKiB: Int? { Self.status(pid: pid, field: "VmRSS") }

    /// Peak resident memory so far, in KiB (`VmHWM`).
    var peakResidentKiB: Int? { Self.status(pid: pid, field: "VmHWM") }

    static func status(pid: Int32, field: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            return Int(line.dropFirst(field.count + 1).trimmingCharacters(in: .whitespaces).split(separator: " ")[0])
        }
        return nil
    }

    /// GET `path` on a new connection.
    func get(_ path: String) async -> RawHTTPConnection.Response? {
        let port = self.port
        return await onThread {
            guard let c = RawHTTPConnection(port: port, receiveTimeout: .seconds(5)) else { return nil }
            c.send("GET \(path) HTTP/1.1\r\nHost: localhost\r\n\r\n")
            return c.readResponse()
        }
    }
}

extension RawHTTPConnection.Response {
    /// Status line, headers and body, as a leak would show in any of them.
    var rendered: String {
        "\(status)\n" + headers.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "\n") + "\n\n"
            + body
    }
}

/// Raises the soft limit on open files to at least `needed` (up to the hard limit); returns the limit in force.
@discardableResult
func raiseOpenFileLimit(to needed: Int) -> Int {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
    if limit.rlim_cur < rlim_t(needed) {
        limit.rlim_cur = min(rlim_t(needed), limit.rlim_max)
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
    return Int(limit.rlim_cur)
}
