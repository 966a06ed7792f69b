import Foundation
import ServiceKit
import ShopifySimulator
import Testing

@testable import ingest

/// Issue #16, item 6: Shopify sends `products/update` of a product with up to 2,048 variants (about 1.7 MB) and
/// large orders; 1 MiB answered them 413, and after Shopify's retries the event was gone. They are taken now, while
/// the bodies held at once stay within a budget: beyond it 503 with Retry-After, which Shopify retries.
@Suite(.timeLimit(.minutes(2))) struct LargeBodyIntegrationTests {
    static let product = LargeWebhookBodies.productUpdate(variants: 2_048)

    static func headers(_ body: [UInt8], id: String) -> [(String, String)] {
        IngestHarness.webhookHeaders(body: body, topic: "products/update", webhookId: id).map { ($0.name.rawName, $0.value) }
    }

    @Test func aProductOf2048VariantsAndAnOrderOf500LinesAreTakenAtTheDefaultLimits() async throws {
        let order = LargeWebhookBodies.orderCreate(lines: 500)
        let h = try await IngestHarness.make("large") { _ in }
        #expect(h.configuration.maxBodyBytes >= Self.product.count)
        try await h.run { _, port in
            let a = await HostileInputIntegrationTests.post(port, body: Self.product, headers: Self.headers(Self.product, id: "big-product"))
            let b = await HostileInputIntegrationTests.post(
                port, body: order,
                headers: IngestHarness.webhookHeaders(body: order, webhookId: "big-order").map { ($0.name.rawName, $0.value) })
            #expect(a?.status == 200 && b?.status == 200)
            let messages = try await h.expectPublished(["acme.myshopify.com/big-product", "acme.myshopify.com/big-order"], port: port)
            #expect(messages.allSatisfy { $0.body.count > 600_000 }, "published whole")
        }
    }

    @Test func bodiesArrivingAtOnceStayWithinTheBudgetAndTheOnesRefusedAreTakenWhenSentAgain() async throws {
        let budget = BodyBudget(limit: 4 << 20)
        let h = try await IngestHarness.make("budget") {
            $0.maxBodyBytes = 2 << 20
            $0.maxBodyBytesInFlight = 4 << 20
            $0.bodyBudget = budget
        }
        let body = Self.product
        let ids = (0..<4).map { "budget-\($0)" }
        try await h.run { _, port in
            let outcome = await onThread { () -> (refused: [Int], retryAfter: [String?], taken: [Int?], again: [Int?]) in
                // Four senders each send the first 1.2 MB of a 1.7 MB body and wait: 4.8 MB held would be over 4 MiB.
                let prefix = 1_200_000
                let connections = ids.map { id -> RawHTTPConnection? in
                    guard let c = RawHTTPConnection(port: port, receiveTimeout: .seconds(10)) else { return nil }
                    let request = RawHTTPConnection.request(path: "/webhooks/shopify", headers: Self.headers(body, id: id), body: body)
                    _ = c.send(Array(request.prefix(request.count - (body.count - prefix))))
                    return c
                }
                Thread.sleep(forTimeInterval: 0.5)
                var refused: [Int] = []
                var retryAfter: [String?] = []
                var taken: [Int?] = []
                for (i, c) in connections.enumerated() {
                    guard let c else { continue }
                    c.setReceiveTimeout(.milliseconds(300))
                    if let answer = c.readResponse() {
                        #expect(answer.status == 503, "a body over the budget is 503, never 413: \(answer.body)")
                        refused.append(i)
                        retryAfter.append(answer.headers["retry-after"])
                    }
                }
                // The others finish their bodies and are taken.
                for (i, c) in connections.enumerated() where !refused.contains(i) {
                    guard let c else { continue }
                    c.setReceiveTimeout(.seconds(10))
                    _ = c.send(Array(body[prefix...]))
                    taken.append(c.readResponse()?.status)
                }
                // Shopify sends the refused ones again.
                var again: [Int?] = []
                for i in refused {
                    let c = RawHTTPConnection(port: port, receiveTimeout: .seconds(10))
                    _ = c?.send(RawHTTPConnection.request(path: "/webhooks/shopify", headers: Self.headers(body, id: ids[i]), body: body))
                    again.append(c?.readResponse()?.status)
                }
                return (refused, retryAfter, taken, again)
            }
            #expect(!outcome.refused.isEmpty, "4.8 MB arriving at once is more than the 4 MiB budget")
            #expect(outcome.retryAfter.allSatisfy { $0 != nil }, "503 tells when to retry")
            #expect(outcome.taken.allSatisfy { $0 == 200 } && outcome.again.allSatisfy { $0 == 200 })
            #expect(budget.peak <= 4 << 20, "never more than the budget held: peak \(budget.peak)")
            #expect(budget.inFlight == 0, "every byte given back")
            _ = try await h.expectPublished(Set(ids.map { "acme.myshopify.com/\($0)" }), port: port)
        }
    }
}

/// The body budget's configuration, checked at start.
@Suite struct BodyBudgetConfigurationTests {
    @Test func aBudgetSmallerThanTheLargestBodyIsRefusedAtStart() throws {
        #expect(throws: ConfigurationError.self) {
            try IngestConfiguration(
                options: IngestOptions.parse([]),
                environment: ["STOCKWIRE_INGEST_MAX_BODY_BYTES": "2000000", "STOCKWIRE_INGEST_MAX_BODY_BYTES_IN_FLIGHT": "1000000"])
        }
    }
}
