import Foundation
import Testing

/// What an operator meets first: each service's `--help`, run as the built executables. (That each one stops with
/// exit status 0 on SIGTERM is checked at the end of every scenario run: `ServiceShutdown` in Tools/scenario.)
@Suite struct CommandLineTests {
    /// The long-running commands an orchestrator starts; their every option can be set from the environment, and the
    /// help names the variable.
    static let services = [["ingest"], ["calculator", "run"], ["exporter", "run"]]

    @Test(arguments: services)
    func helpExplainsEveryOptionAndItsEnvironmentVariable(command: [String]) throws {
        let (status, output) = try Self.run(command + ["--help"])
        #expect(status == 0, "\(command.joined(separator: " ")) --help:\n\(output)")
        #expect(output.contains("OVERVIEW:") && output.contains("USAGE:"), "\(output)")
        let options = Self.options(in: output).filter { !$0.hasPrefix("-h, --help") }
        #expect(options.count >= 5, "\(command.joined(separator: " ")): options not found in\n\(output)")
        for option in options {
            #expect(option.contains("(env STOCKWIRE_"), "\(command.joined(separator: " ")): '\(option)' names no variable")
            // A help text broken by a line continuation shows as a run of spaces inside a sentence.
            #expect(!option.contains("   "), "\(command.joined(separator: " ")): '\(option)'")
        }
    }

    @Test(arguments: [
        ("calculator", ["run", "migrate", "stock", "explain", "publish-all", "replay", "snapshot", "rebuild", "dead-letters", "guard", "availability"]),
        ("exporter", ["run", "dead-letters", "resync", "check-shop"]),
    ])
    func helpListsTheSubcommands(binary: String, subcommands: [String]) throws {
        let (status, output) = try Self.run([binary, "--help"])
        #expect(status == 0, "\(binary) --help:\n\(output)")
        let listed = Set(
            (output.components(separatedBy: "SUBCOMMANDS:").dropFirst().first ?? "").split(separator: "\n")
                .compactMap { $0.hasPrefix("  ") && !$0.hasPrefix("   ") ? $0.split(separator: " ").first.map(String.init) : nil })
        for subcommand in subcommands { #expect(listed.contains(subcommand), "\(binary) --help lists \(listed.sorted())") }
    }

    /// `exporter check-shop` names what is wrong with its own invocation and exits 78, before asking any shop.
    @Test func checkShopRefusesAShopNotInTheShopsFileAndABadTruthFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("check-shop-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let token = dir.appendingPathComponent("token")
        try "shpat_x\n".write(to: token, atomically: true, encoding: .utf8)
        let shops = dir.appendingPathComponent("shops.json")
        try #"[{"domain": "acme.myshopify.com", "token_file": "\#(token.path)"}]"#.write(to: shops, atomically: true, encoding: .utf8)
        let unknown = try Self.run(["exporter", "check-shop", "beta.myshopify.com", "--shops-file", shops.path])
        #expect(unknown.status == 78 && unknown.output.contains("beta.myshopify.com is not in the shops file"), "\(unknown.output)")
        let truth = dir.appendingPathComponent("truth.json")
        try #"{"A": 1}"#.write(to: truth, atomically: true, encoding: .utf8)
        let bad = try Self.run(["exporter", "check-shop", "acme.myshopify.com", "--shops-file", shops.path, "--truth", truth.path])
        #expect(bad.status == 78 && bad.output.contains("calculator availability --json"), "\(bad.output)")
    }

    @Test(arguments: services)
    func anUnknownOptionIsRefusedWithTheUsage(command: [String]) throws {
        let (status, output) = try Self.run(command + ["--no-such-option"])
        #expect(status != 0)
        #expect(output.contains("--no-such-option") && output.contains("Usage:"), "\(output)")
    }

    /// The options of a help text, one string each with its wrapped lines joined.
    static func options(in help: String) -> [String] {
        guard let section = help.components(separatedBy: "OPTIONS:").dropFirst().first else { return [] }
        var options: [String] = []
        for line in section.components(separatedBy: "SUBCOMMANDS:")[0].split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("  -") {
                // The column between the name and its help is padding, not text.
                options.append(
                    line.trimmingCharacters(in: .whitespaces)
                        .replacingOccurrences(of: #"^(\S+(?: <[^>]*>)?(?:, \S+(?: <[^>]*>)?)?) {2,}"#, with: "$1 ", options: .regularExpression))
            } else if line.hasPrefix("   "), let last = options.indices.last {
                // A wrapped help line, or the help of a long name that stood alone on its line.
                options[last] += " " + line.trimmingCharacters(in: .whitespaces)
            }
        }
        return options
    }

    /// Runs a built service (beside the test bundle) and returns its exit status and all it printed. Help text
    /// wraps at the terminal's width; a fixed one keeps the assertions independent of where it runs.
    static func run(_ command: [String]) throws -> (status: Int32, output: String) {
        try ScenarioRunner.runBuilt(command[0], Array(command.dropFirst()), environment: ["COLUMNS": "80"])
    }
}
