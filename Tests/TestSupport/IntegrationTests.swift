import Testing

/// Which tests need servers: those that need RabbitMQ or PostgreSQL, or start processes, live in suites named
/// `…IntegrationTests` (the suites that restart the broker, `…DisruptiveTests`, and the `EndToEndTests` target need
/// them too). Swift Testing in this toolchain cannot select tags from the command line, but `--filter` and `--skip`
/// match a test's full ID (module, suites, function, source file), so the fast, server-free tests run with
///
///     swift test --skip 'IntegrationTests|DisruptiveTests|EndToEndTests'
///
/// The fixtures enforce it: the broker, the database and the built executables, used from any other test, record
/// an issue, so that a test put in the wrong suite fails the full run instead of failing, one day, someone's fast
/// run without servers.
public enum IntegrationTests {
    /// The `--skip` pattern of the fast run.
    public static let pattern = "IntegrationTests|DisruptiveTests|EndToEndTests"

    /// Whether a test ID falls under ``pattern`` (the same match as `swift test --skip`).
    public static func covers(_ testID: String) -> Bool {
        pattern.split(separator: "|").contains { testID.contains($0) }
    }

    /// Records an issue when the running test is not an integration test: it uses `what` (a server, a process).
    static func require(_ what: String) {
        guard let test = Test.current else { return }  // not inside a test (or on a thread of its own)
        let id = "\(test.id)"
        guard !covers(id) else { return }
        Issue.record(
            """
            \(id) uses \(what): put it in a suite named …IntegrationTests, which the fast run \
            (swift test --skip '\(pattern)') leaves out
            """, sourceLocation: test.sourceLocation)
    }
}
