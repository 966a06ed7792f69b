import Foundation
import Toolbox

/// The real `exporter run` as a child process, with its CPU time read from `/proc/<pid>/stat`.
final class ExporterProcess: Sendable {
    private let process: Process
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
        let process = try Process.launch(
            binary, ["run"] + arguments, environment: environment, output: try FileHandle.log(at: logFile))
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
        await process.stop(grace: timeout, polling: .milliseconds(50))
    }
}

/// A bench set-up that failed; the message names the thing and the fix.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
