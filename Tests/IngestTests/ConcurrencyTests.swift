import Foundation
import StockwireTestSupport
import Synchronization
import Testing

@testable import ingest

@Suite struct ConcurrencyIntegrationTests {
    @Test func thousandConcurrentSignedWebhooksGiveThousandConfirmedMessagesWithoutDuplicates() async throws {
        let h = try await IngestHarness.make("thousand")
        let total = 1_000
        let connections = 100
        try await h.run(publishers: 2) { _, port in
            // 100 keep-alive connections with 10 webhooks each: up to 100 publishes awaiting confirms at once.
            let results = await withTaskGroup(of: [Int: String].self) { group in
                for worker in 0..<connections {
                    group.addTask {
                        await onThread {
                            let requests = Array(stride(from: worker, to: total, by: connections))
                            guard let c = RawHTTPConnection(port: port, receiveTimeout: .seconds(15)) else {
                                let reason = "connect failed: \(String(cString: strerror(errno)))"
                                return Dictionary(uniqueKeysWithValues: requests.map { ($0, reason) })
                            }
                            let started = ContinuousClock.now
                            var out: [Int: String] = [:]
                            for i in requests {
                                let body = Array(#"{"id":\#(5_800_000_000_000_000 + i),"n":\#(i)}"#.utf8)
                                let headers = IngestHarness.webhookHeaders(body: body, webhookId: "wh-\(i)")
                                    .map { ($0.name.rawName, $0.value) }
                                c.send(RawHTTPConnection.request(path: "/webhooks/shopify", headers: headers, body: body))
                                if let response = c.readResponse() {
                                    out[i] = "\(response.status)"
                                } else {
                                    out[i] = "no answer (\(c.lastFailure ?? "?"), connection \(worker), "
                                        + "request \(out.count + 1) of \(requests.count), after \(ContinuousClock.now - started))"
                                }
                            }
                            return out
                        }
                    }
                }
                return await group.reduce(into: [Int: String]()) { $0.merge($1) { a, _ in a } }
            }
            let statuses = results.values.map { Int($0) ?? -1 }
            let failures = results.filter { $0.value != "200" }.sorted { $0.key < $1.key }
            #expect(statuses.count == total)
            #expect(
                statuses.allSatisfy { $0 == 200 },
                "statuses: \(Dictionary(grouping: statuses) { $0 }.mapValues(\.count)); first failures: \(failures.prefix(5))")
            // Each once and nothing beyond the 1,000: the queue holds them and the marker sent after them, nothing else.
            let messages = try await h.expectPublished(
                Set((0..<total).map { "acme.myshopify.com/wh-\($0)" }), port: port, timeout: .seconds(30))
            #expect(messages.count == total)
        }
    }
}
