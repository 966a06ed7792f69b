import Foundation
import Toolbox

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

    /// User plus system CPU seconds used so far.
    func cpuSeconds() throws -> Double {
        guard let seconds = LinuxProcess(pid: pid).cpuSeconds() else { throw BenchError("unreadable /proc/\(pid)/stat") }
        return seconds
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
