import Foundation

extension Report {
    /// One chart of a JSON report: what `Tools/charts/stockwire-chart` draws (its subcommand) and where it goes.
    struct Chart {
        /// `product-drop` or `latency`.
        var kind: String
        var path: String
    }

    /// Draws `charts` of the report at `json` with `Tools/charts/stockwire-chart` (Python and matplotlib), in place
    /// of any chart an earlier run left at those paths, and returns the paths drawn.
    ///
    /// A missing chart never fails a run: without the script, Python or matplotlib, or when the script fails, one
    /// line says what is missing (and the apt command) and the run goes on.
    ///
    /// The script is looked up in `repository`, the current directory: every run already takes the repository from
    /// there (deploy/local's scripts, `.build/release`, `.local/scenario`). `#filePath` would name the checkout the
    /// binary was compiled in, which is not there for a binary built elsewhere (CI, an image) and is another tree
    /// than the one the run uses when one binary is run from several checkouts.
    static func drawCharts(
        _ charts: [Chart], of json: String, repository: String = FileManager.default.currentDirectoryPath
    ) -> [String] {
        for chart in charts { try? FileManager.default.removeItem(atPath: chart.path) }
        let script = URL(fileURLWithPath: repository).appendingPathComponent("Tools/charts/stockwire-chart").path
        guard FileManager.default.fileExists(atPath: script) else {
            print("• charts not drawn: \(script) not found (run stockwire-scenario from the repository's root)")
            return []
        }
        guard let python = pythonInterpreter() else {
            print(
                "• charts not drawn: no Python 3 (neither /usr/bin/python3 nor python3 on PATH); "
                    + "to draw them: apt-get install python3-matplotlib")
            return []
        }
        var drawn: [String] = []
        for chart in charts {
            let (status, message) = runScript(python, [script, chart.kind, json, chart.path])
            switch status {
            case 0:
                drawn.append(chart.path)
            case 3:
                // matplotlib is missing: the script's line names the interpreters it tried and the apt command.
                print("• charts not drawn: \(message)")
                return drawn
            default:
                print("• chart \(chart.path) not drawn (stockwire-chart \(chart.kind), exit status \(status)): \(message)")
            }
        }
        return drawn
    }

    /// "report: X, charts: A, B", naming only the charts that were drawn.
    static func reportLine(json: String, charts: [String]) -> String {
        guard !charts.isEmpty else { return "report: \(json) (no charts)" }
        return "report: \(json), \(charts.count == 1 ? "chart" : "charts"): \(charts.joined(separator: ", "))"
    }

    /// Debian's Python (where `apt-get install python3-matplotlib` puts matplotlib), else the first python3 on PATH.
    private static func pythonInterpreter() -> String? {
        let fileManager = FileManager.default
        if fileManager.isExecutableFile(atPath: "/usr/bin/python3") { return "/usr/bin/python3" }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        return path.split(separator: ":").map { "\($0)/python3" }.first { fileManager.isExecutableFile(atPath: $0) }
    }

    /// Runs the script to completion: its exit status and the last line it wrote to stderr, without the
    /// "stockwire-chart: " prefix.
    private static func runScript(_ python: String, _ arguments: [String]) -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        let stderr = Pipe()
        process.standardError = stderr
        do { try process.run() } catch { return (127, "cannot run \(python): \(error)") }
        let output = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let last = String(decoding: output, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? "no message"
        let prefix = "stockwire-chart: "
        return (process.terminationStatus, last.hasPrefix(prefix) ? String(last.dropFirst(prefix.count)) : last)
    }
}
