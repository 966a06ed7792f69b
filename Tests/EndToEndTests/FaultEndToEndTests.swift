import Foundation
import ScenarioReports
import Testing

/// The reliability suite (RELIABILITY.md) at small sizes: each test runs `stockwire-scenario faults` — a Black
/// Friday load over the real executables with one fault injected — and asserts the checker's figures: nothing an
/// answer promised is lost, nothing is applied twice or from nowhere, no order snapshot or shop goes back to an
/// older version, every message is accounted for, and the shops equal the truth within 30 s of the fault healing.
@Suite(.serialized) struct FaultEndToEndTests {
    /// CI's size: 2 shops, 30 SKUs, 60 events/s for 8 s.
    static let small = ["--shops", "2", "--skus", "30", "--rate", "60", "--seconds", "8"]
    /// A multi-shop merchant's size (issue #17): 4 shops, 500 SKUs, 400 events/s for 20 s.
    static let merchant = ["--shops", "4", "--skus", "500", "--rate", "400", "--seconds", "20"]

    /// Runs one fault and checks what every fault must leave intact. `build`: the folder of the executables to run
    /// (the test's own debug build unless given).
    func run(
        _ fault: String, port: Int, _ extra: [String] = [], size: [String] = small, build: URL? = nil
    ) throws -> FaultRunReport {
        let json = FileManager.default.temporaryDirectory.appendingPathComponent("fault-\(fault)-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: json) }
        let (status, text) = try ScenarioRunner.run(
            "faults",
            ["--fault", fault] + size + [
                "--quiet-timeout", "45", "--plan", "plus", "--ingest-port", "\(port)", "--json", json.path,
            ] + extra, build: build)
        // 0: the checker passed; 1: it failed (the figures below say how); anything else: the run broke.
        try #require(status == 0 || status == 1, "scenario failed:\n\(text)")
        let report = try JSONDecoder().decode(FaultRunReport.self, from: Data(contentsOf: json))
        let c = report.checker
        let context = Comment(rawValue: "\(c.failures)\n\(c.examples)\n\(text.suffix(4_000))")
        #expect(report.load.webhooksAccepted > 0 && report.load.movementsAccepted > 0, context)
        #expect(c.accepted > 0 && c.applied >= c.accepted, context)
        // Every webhook is answered 2xx in the end (Shopify gives up after its retries); answered 2xx is applied;
        // nothing is applied twice, nor anything nobody sent.
        #expect(c.neverAccepted == 0, context)
        #expect(c.lost == 0, context)
        #expect(c.duplicated == 0, context)
        #expect(c.unexpected == 0, context)
        // No late or reordered snapshot wins, no shop is moved back to an older version.
        #expect(c.rolledBack == 0, context)
        #expect(c.staleWrites == 0, context)
        #expect(c.writes.versionFromReference + c.writes.versionFromReports > 0, "the stale-write check saw no versions")
        // Every event published is applied or dead-lettered, nothing is left in a queue.
        #expect(c.accounting.balanced, context)
        #expect(c.accounting.published == c.accounting.applied + c.accounting.deadLettered, context)
        #expect(c.accounting.deadLettersAsExpected, context)
        // Every shop equals the truth again within 30 s of the fault healing.
        #expect(c.converged && c.convergenceSeconds <= 30, context)
        #expect(c.passed, context)
        return report
    }

    /// The release build `deploy/local/test.sh` makes for the runs at a merchant's size (debug services cannot carry
    /// 400 events/s on two cores); unset, those runs are skipped.
    static let releaseBuild = ProcessInfo.processInfo.environment["STOCKWIRE_TEST_RELEASE_BUILD"].map {
        URL(fileURLWithPath: $0)
    }

    /// Issue #17: at 2 shops and 30 SKUs the crash faults passed while at 4 shops, 500 SKUs and 400 events/s a
    /// restarted exporter left shops units below the truth for good. Two seeds each, at that size.
    @Test(
        .enabled(if: releaseBuild != nil, "needs STOCKWIRE_TEST_RELEASE_BUILD (deploy/local/test.sh sets it)"),
        arguments: [("kill-exporter", 1), ("kill-exporter", 2), ("kill-calculator", 1), ("kill-calculator", 2)])
    func crashFaultsAtAMerchantsSizeConverge(fault: String, seed: Int) throws {
        let report = try run(
            fault, port: 18320 + seed, ["--seed", "\(seed)"], size: Self.merchant, build: Self.releaseBuild)
        #expect((report.restarts[fault.replacingOccurrences(of: "kill-", with: "")] ?? 0) >= 2)
    }

    @Test func calculatorKilledMidBatchAndBetweenCommitAndPublishLosesAndDuplicatesNothing() throws {
        let report = try run("kill-calculator", port: 18301, ["--kills", "3", "--kill-every", "2.5"])
        #expect(report.events.filter { $0.what.hasPrefix("SIGKILL calculator") }.count == 3)
        #expect(report.events.contains { $0.what.contains("before publishing") }, "no crash between commit and publish")
        #expect((report.restarts["calculator"] ?? 0) >= 4)
    }

    @Test func exporterKilledMidWriteAndWhileCoalescingWritesNoStaleVersionAndConverges() throws {
        let report = try run("kill-exporter", port: 18302, ["--kills", "2", "--kill-every", "3.5"])
        #expect(report.events.contains { $0.what.contains("in flight at Shopify") }, "no kill with a write in flight")
        #expect(report.events.contains { $0.what.contains("throttled") })
        #expect(report.restarts["exporter"] == 2)
    }

    @Test func ingestKilledWithRequestsInFlightLosesNothingItAnswered2xx() throws {
        let report = try run("kill-ingest", port: 18303, ["--kills", "3", "--kill-every", "2.5"])
        #expect(report.events.filter { $0.what.hasPrefix("SIGKILL ingest") }.count == 3)
        #expect(report.restarts["ingest"] == 3)
    }

    @Test func poisonIsDeadLetteredAndEveryOtherSkuConverges() throws {
        let report = try run("poison", port: 18304)
        let dead = report.checker.accounting
        // Bad JSON, not an envelope, unknown SKU, absurd quantity: the calculator's dead letters, nothing else.
        #expect(dead.calculatorDeadLetters.count == 4, "\(dead.calculatorDeadLetters)")
        #expect(dead.calculatorDeadLetters.contains { $0.hasSuffix("-bad-json") })
        #expect(dead.calculatorDeadLetters.contains { $0.hasSuffix("-unknown-sku") })
        #expect(dead.calculatorDeadLetters.contains { $0.hasSuffix("-absurd-quantity") })
        // Shop A: the unreadable availability message and the refused SKU's writes; the unlisted SKU is skipped.
        let shopA = dead.exporterDeadLetters["shop-a.myshopify.com"] ?? []
        #expect(shopA.contains { $0.hasSuffix("-availability-bad-json") }, "\(shopA)")
        #expect(shopA.contains { $0.contains("-refused/") }, "\(shopA)")
        #expect(!shopA.contains { $0.hasSuffix("-availability-unlisted") }, "\(shopA)")
        #expect((report.restarts["calculator"] ?? 0) == 0, "the calculator died on poison: \(report.events.map(\.what))")
    }

    @Test func brokerKilledHardAndRestartedKeepsEverythingItConfirmed() throws {
        let report = try run("broker-crash", port: 18306)
        #expect(report.events.contains { $0.what.hasPrefix("SIGKILL RabbitMQ") })
        #expect(report.events.contains { $0.what.hasPrefix("RabbitMQ started again") })
        #expect(report.restarts.values.reduce(0, +) == 0, "a service died with the broker: \(report.events.map(\.what))")
    }

    @Test func postgresStoppedImmediatelyForThirtySecondsLosesNothing() throws {
        let report = try run("postgres-crash", port: 18307)
        #expect(report.events.contains { $0.what.hasPrefix("PostgreSQL stopped in immediate mode") })
        #expect(report.events.contains { $0.what.hasPrefix("PostgreSQL started again") })
        #expect(report.restarts.values.reduce(0, +) == 0, "a service died with the database: \(report.events.map(\.what))")
    }

    @Test func memoryAlarmForAMinuteGives503FastAndShopifysRetriesLandOnce() throws {
        let report = try run("memory-alarm", port: 18308)
        // The injector fails the run when a probe during the alarm was not a 503 within 1 s.
        #expect(report.events.contains { $0.what.hasPrefix("during the alarm:") })
        #expect(report.events.contains { $0.what.hasPrefix("memory alarm lifted") })
    }

    @Test func halfOpenBrokerConnectionsAreGivenUpWithinTwoHeartbeatsAndNothingIsLost() throws {
        // The injector fails the run when a service's /readyz did not turn red within 26 s (two 10 s heartbeats and 6 s).
        let report = try run("broker-blackhole", port: 18309)
        #expect(report.events.contains { $0.what.hasPrefix("every connection between the services and RabbitMQ blackholed") })
        #expect(report.events.contains { $0.what.hasPrefix("network back") })
        #expect(report.restarts.values.reduce(0, +) == 0, "a service died of the cut: \(report.events.map(\.what))")
    }

    @Test func duplicatedReorderedAndFourHourLateDeliveriesApplyOnceAndRollNothingBack() throws {
        let report = try run("late-duplicates", port: 18305)
        let c = report.checker
        // The injector's own deliveries were answered and are part of what the checker holds to "applied once".
        #expect(c.injectedAccepted > 20, "the injector's deliveries were not accepted")
        #expect(report.events.contains { $0.what.contains("4 hours late") })
    }
}
