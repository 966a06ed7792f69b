import Foundation
import Testing

/// Runs the real executables end to end (through `stockwire-scenario`, which starts ingest, calculator and
/// exporter as processes against the real RabbitMQ and PostgreSQL and two simulated shops) and checks what a
/// merchant relies on.
@Suite(.serialized) struct ProductDropEndToEndTests {
    struct Report: Decodable {
        struct Consistency: Decodable {
            var passed: Bool
            var details: [String]
        }
        var sold: Int
        var oversold: Int
        var soldPerShop: [String: Int]
        var consistency: Consistency
    }

    @Test func productDropSellsOutConvergesAndTheTruthMatchesWhatWasSent() async throws {
        let json = FileManager.default.temporaryDirectory.appendingPathComponent("drop-\(UUID().uuidString).json")
        let units = 60
        let (status, text) = try ScenarioRunner.run(
            "product-drop",
            [
                "--shops", "2", "--units", "\(units)", "--buyers", "400", "--seconds", "8", "--plan", "plus",
                "--ingest-port", "18181", "--json", json.path,
            ])
        #expect(status == 0, "scenario failed:\n\(text)")
        let report = try JSONDecoder().decode(Report.self, from: Data(contentsOf: json))
        try? FileManager.default.removeItem(at: json)
        try? FileManager.default.removeItem(at: json.deletingPathExtension().appendingPathExtension("svg"))
        try? FileManager.default.removeItem(at: URL(fileURLWithPath: json.deletingPathExtension().path + "-latency.svg"))
        #expect(report.consistency.passed, "\(report.consistency.details)")
        #expect(report.soldPerShop.values.allSatisfy { $0 > 0 }, "both shops sold")
        // Without sync each of the two shops would sell every unit (oversold = units). Live sync limits the
        // overlap to what sells while a sale propagates; in a debug build on a busy 2-core machine that window
        // is tens of milliseconds, so this bounds the effect of sync, not its best case. Zero is issue 10's guard.
        #expect(report.oversold < units, "oversold \(report.oversold) of \(units)")
    }
}
