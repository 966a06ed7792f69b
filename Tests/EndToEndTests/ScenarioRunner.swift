import Foundation
import StockwireTestSupport

/// Runs `stockwire-scenario` from the build folder these tests were built into, so any `--scratch-path` works.
enum ScenarioRunner {
    static var repository: URL { BuildProducts.repository }

    /// The folder holding the test bundle, the scenario runner and the services (debug builds); `.build/debug`
    /// when the runner is not beside the test bundle.
    static var buildDirectory: URL { BuildProducts.directory(containing: "stockwire-scenario") }

    /// Runs the scenario with `arguments` (after the subcommand), returns its exit status and output. `build`: the
    /// folder whose scenario runner and services run (``buildDirectory`` unless given).
    static func run(_ subcommand: String, _ arguments: [String], build: URL? = nil) throws -> (status: Int32, output: String) {
        let build = build ?? buildDirectory
        return try runBuilt(
            "stockwire-scenario", [subcommand, "--build-directory", build.path] + arguments, in: repository, build: build)
    }

    /// Runs an executable of the build folder with `arguments` (and `environment` on top of this process's) and
    /// returns its exit status and everything it printed, standard error included.
    static func runBuilt(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], in directory: URL? = nil,
        build: URL? = nil
    ) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = (build ?? buildDirectory).appendingPathComponent(executable)
        p.currentDirectoryURL = directory
        p.arguments = arguments
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, text)
    }

    /// Removes a report and the charts the runner wrote beside it.
    static func removeReport(_ json: URL) {
        try? FileManager.default.removeItem(at: json)
        try? FileManager.default.removeItem(at: json.deletingPathExtension().appendingPathExtension("svg"))
        try? FileManager.default.removeItem(at: URL(fileURLWithPath: json.deletingPathExtension().path + "-latency.svg"))
    }
}
