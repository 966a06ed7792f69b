import Foundation
import Synchronization
import Testing

@testable import ingest

@Suite struct ConcurrencyTests {
    @Test func thousandConcurrentSignedWebhooksGiveThousandConfirmedMessagesWithoutDuplicates() async throws {
        let h = try await IngestHarness.make("thousand")
        let total = 1_000
        let connections = 100
        try await h.run(publishers: 2) { _, port in
            // 100 keep-alive connections with 10 webhooks each: up to 100 publishes awaiting confirms at once.
            let statuses = await withTaskGroup(of: [Int].self) { group in
                for worker in 0..<connections {
                    group.addTask {
                        await onThread {
                            guard let c = RawHTTPConnection(port: port, receiveTimeout: .seconds(15)) else { return [-1] }
                            var out: [Int] = []
                            for i in stride(from: worker, to: total, by: connections) {
                                let body = Array(#"{"id":\#(5_800_000_000_000_000 + i),"n":\#(i)}"#.utf8)
                                let headers = IngestHarness.webhookHeaders(body: body, webhookId: "wh-\(i)")
                                    .map { ($0.name.rawName, $0.value) }
                                c.send(RawHTTPConnection.request(path: "/webhooks/shopify", headers: headers, body: body))
                                out.append(c.readResponse()?.status ?? -1)
                            }
                            return out
                        }
                    }
                }
                return await group.reduce(into: [Int]()) { $0 += $1 }
            }
            #expect(statuses.count == total)
            #expect(statuses.allSatisfy { $0 == 200 }, "statuses: \(Dictionary(grouping: statuses) { $0 }.mapValues(\.count))")
            let messages = try await h.take(total, timeout: .seconds(30))
            let ids = Set(messages.compactMap(\.properties.messageId))
            #expect(ids.count == total)
            #expect(ids == Set((0..<total).map { "acme.myshopify.com/wh-\($0)" }))
            // Nothing beyond the 1,000 (the broker settles the acks asynchronously, hence the wait).
            let extra = try await eventually(timeout: .seconds(5)) { try await h.depth() == 0 } ? 0 : Int(try await h.depth())
            if extra > 0 {
                let more = try await h.take(extra)
                Issue.record("\(extra) messages beyond the 1,000: \(more.compactMap(\.properties.messageId).prefix(10))")
            }
        }
    }
}
