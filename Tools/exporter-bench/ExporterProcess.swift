import Foundation

/// The real `exporter run` as a child process, with its CPU time read from `/proc/<pid>/stat`.
final class ExporterProcess: Sendable {
    // `Process` is thread-safe for what is used here (pid, isRunning, terminate, waitUntilExit); it is only
    // configured before `run()` in `start`.
    nonisolated(unsafe) private let process: Process
    /// Where its standard output and error go.
    let logFile: String

    private init(process: Process, logFile: String) {
        self.process = process
        self.logFile = logFile
    }

    /// Starts `binary run` with `arguments` and `environment` added to this process's environment.
    static func start(
        binary: String, arguments: [String], environment: [String: String], logFile: String
    ) throws -> ExporterProcess {
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw BenchError(
                "exporter binary \(binary) not found: build it with `swift build -c release --product exporter` "
                    + "or pass --exporter-binary")
        }
        FileManager.default.createFile(atPath: logFile, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logFile))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["run"] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        process.standardOutput = log
        process.standardError = log
        try process.run()
        return ExporterProcess(process: process, logFile: logFile)
    }

    /// The process id.
    var pid: Int32 { process.processIdentifier }

    /// True until it exits.
    var isRunning: Bool { process.isRunning }

    /// User plus system CPU seconds used so far (fields 14 and 15 of `/proc/<pid>/stat`).
    func cpuSeconds() throws -> Double {
        let text = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
        guard let close = text.lastIndex(of: ")") else { throw BenchError("unreadable /proc/\(pid)/stat") }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // After ')' the fields start at 3 (state), so utime (14) and stime (15) are at offsets 11 and 12.
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else {
            throw BenchError("unreadable /proc/\(pid)/stat")
        }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Sends SIGTERM and waits up to `timeout` for a graceful exit, then SIGKILL.
    func stop(timeout: Duration = .seconds(15)) async {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning { kill(pid, SIGKILL) }
    }
}

/// A bench set-up that failed; the message names the thing and the fix.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
