import Foundation
import Testing

/// Issue #18: Stockwire on the local cluster — three RabbitMQ nodes, a PostgreSQL primary with a synchronous
/// standby, two instances of every service — at a merchant's size (4 shops, 500 SKUs, 400 events/s), with the
/// checker of every fault run. `deploy/local/test.sh` runs these last, on their own (`STOCKWIRE_TEST_CLUSTER=1`):
/// the PostgreSQL pair takes the single server's port. The other cluster faults are commands (RELIABILITY.md).
@Suite(
    .serialized,
    .enabled(
        if: FaultEndToEndTests.releaseBuild != nil && ProcessInfo.processInfo.environment["STOCKWIRE_TEST_CLUSTER"] == "1",
        "needs STOCKWIRE_TEST_RELEASE_BUILD and STOCKWIRE_TEST_CLUSTER=1 (deploy/local/test.sh's cluster phase)"))
struct ClusterFaultTests {
    static let cluster = ["--broker-nodes", "3"]

    /// Seconds webhooks were refused, from the injector's note ("webhooks refused (no 2xx) in 0.3 s …"); 0 if none.
    static func refusedSeconds(_ report: FaultEndToEndTests.Report) throws -> Double {
        guard let note = report.events.first(where: { $0.what.hasPrefix("webhooks refused") }) else {
            Issue.record("the run did not report refused webhooks")
            return .infinity
        }
        guard let range = note.what.range(of: #"in [0-9.]+ s"#, options: .regularExpression) else { return 0 }
        return Double(note.what[range].dropFirst(3).dropLast(2)) ?? .infinity
    }

    @Test func theNodeLeadingTheEventsQueueKilledLosesNothingAndRefusesWebhooksForAtMostTwoSeconds() throws {
        let report = try FaultEndToEndTests().run(
            "broker-node-kill", port: 18341, Self.cluster, size: FaultEndToEndTests.merchant,
            build: FaultEndToEndTests.releaseBuild)
        #expect(report.events.contains { $0.what.hasPrefix("SIGKILL broker node") })
        #expect(report.events.contains { $0.what.contains("back in the cluster") })
        let refused = try Self.refusedSeconds(report)
        #expect(refused <= 2, "webhooks refused for \(refused) s")
    }

    @Test func thePostgresPrimaryKilledAndTheStandbyPromotedLosesNothing() throws {
        let report = try FaultEndToEndTests().run(
            "postgres-failover", port: 18342, Self.cluster, size: FaultEndToEndTests.merchant,
            build: FaultEndToEndTests.releaseBuild)
        #expect(report.events.contains { $0.what.hasPrefix("standby promoted") })
        #expect(report.events.contains { $0.what.hasPrefix("old primary rebuilt") })
    }
}
