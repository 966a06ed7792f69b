import Contracts
import Foundation
import Testing

@Suite struct WriteReportTests {
    @Test func aReportCarriesTheKeyOfTheMutationThatWroteIt() throws {
        let report = WriteReport(
            shop: "a.myshopify.com",
            writes: [.init(sku: "TEE", version: 7, value: 3, writtenAtMillis: 1_000, firstReceivedAtMillis: 900)],
            idempotencyKey: "K-1")
        let text = String(decoding: try report.json(), as: UTF8.self)
        #expect(text.contains(#""idempotency_key":"K-1""#))
        #expect(try WriteReport.decode(Array(text.utf8)) == report)
    }

    @Test func eachWriteOfAGatheredReportCarriesItsOwnKey() throws {
        let report = WriteReport(
            shop: "a.myshopify.com",
            writes: [
                .init(sku: "TEE", version: 7, value: 3, writtenAtMillis: 1_000, firstReceivedAtMillis: 900, idempotencyKey: "K-1"),
                .init(sku: "CAP", version: 2, value: 5, writtenAtMillis: 1_200, firstReceivedAtMillis: 1_100, idempotencyKey: "K-2"),
            ])
        let decoded = try WriteReport.decode(try report.json())
        #expect(decoded.idempotencyKey == nil && decoded.writes.map(\.idempotencyKey) == ["K-1", "K-2"])
    }

    @Test func aReportOfAnExporterThatNamesNoKeyIsStillRead() throws {
        // Written by an exporter from before the key, or for levels the shop held already (nothing sent).
        let body = #"{"schema_version":1,"shop":"a.myshopify.com","writes":[{"sku":"TEE","version":7,"value":3,"written_at_ms":1000}]}"#
        let report = try WriteReport.decode(Array(body.utf8))
        #expect(report.idempotencyKey == nil)
        #expect(report.writes.map(\.version) == [7])
    }
}
