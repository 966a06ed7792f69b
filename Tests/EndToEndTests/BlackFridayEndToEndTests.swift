import Foundation
import ScenarioReports
import Testing

/// A small Black Friday through the real executables (`stockwire-scenario black-friday`): orders created, edited,
/// cancelled and refunded in four simulated shops, goods received and orders shipped in the warehouse, with
/// duplicate and reordered webhook deliveries — then the consistency check.
@Suite(.serialized) struct BlackFridayEndToEndTests {
    @Test func blackFridayMixLeavesTheTruthEqualToWhatWasSentAndEveryShopEqualToTheTruth() async throws {
        let json = FileManager.default.temporaryDirectory.appendingPathComponent("bf-\(UUID().uuidString).json")
        defer {
            try? FileManager.default.removeItem(at: json)
            try? FileManager.default.removeItem(at: json.deletingPathExtension().appendingPathExtension("svg"))
            try? FileManager.default.removeItem(
                at: URL(fileURLWithPath: json.deletingPathExtension().path + "-latency.svg"))
        }
        let (status, text) = try ScenarioRunner.run(
            "black-friday",
            [
                "--shops", "4", "--skus", "50", "--rate", "100", "--seconds", "10", "--quiet-timeout", "20",
                "--plan", "plus", "--ingest-port", "18182", "--json", json.path,
            ])
        // 0: consistent; 1: the consistency check failed (examined below); anything else: the run broke.
        try #require(status == 0 || status == 1, "scenario failed:\n\(text)")
        let report = try JSONDecoder().decode(BlackFridayReport.self, from: Data(contentsOf: json))
        for kind in ["checkout", "edit", "cancel", "refund", "receipt", "shipment"] {
            #expect((report.done[kind] ?? 0) > 0, "no \(kind) happened:\n\(text)")
        }
        #expect(report.duplicatesInjected > 0, "the duplicate fault was off")
        #expect(report.webhooksAccepted > 0 && report.movementsAccepted > 0 && report.eventsApplied > 0)
        // Ingest and calculator: nothing lost, nothing applied twice, whatever the duplicates and the reordering.
        #expect(report.consistency.truthMatchesSent == true, "\(report.consistency.details)")
        // Exporter: once quiet, every shop shows the truth — after sales, edits, cancellations and refunds in the
        // shops themselves, whose restocks Shopify applies on its own (ShopLedger, step 6).
        #expect(report.consistency.shopsMatchTruth == true, "\(report.consistency.details)")
        // The figures that name what bounds the throughput: CPU of every part, RabbitMQ's and PostgreSQL's included,
        // and the shops' own answer times, apart from Stockwire's.
        let cpu = try #require(report.cpu, "no CPU budget in the report")
        for part in ["ingest", "calculator", "exporter", "RabbitMQ", "PostgreSQL", "scenario (buyers + simulator)"] {
            #expect((cpu.seconds[part] ?? 0) > 0, "no CPU measured for \(part): \(cpu.seconds)")
        }
        #expect(cpu.machineBusySeconds >= cpu.seconds.values.reduce(0, +) * 0.5, "\(cpu)")
        #expect((report.shopWriteAnswers?.counts.reduce(0, +) ?? 0) > 0, "no shop answer times in the report")
    }
}
