import AMQP
import Foundation
import Hummingbird
import HummingbirdTesting
import StockwireTestSupport
import Testing

@testable import ingest

/// Broker faults under a running ingest. They stop or block the shared broker, so `deploy/local/test.sh` runs them
/// after every other suite, one at a time.
@Suite(.serialized) struct IngestDisruptiveTests {
    static func webhook(_ client: any TestClientProtocol, id: String) async throws -> TestResponse {
        let body = Array(#"{"id":1,"webhook":"\#(id)"}"#.utf8)
        return try await IngestHarness.post(
            client, "/webhooks/shopify", body: body, headers: IngestHarness.webhookHeaders(body: body, webhookId: id))
    }

    @Test func brokerStoppedGives503FastAndIngestRecoversWithoutRestart() async throws {
        let h = try await IngestHarness.make("stopped") {
            $0.retryAfterSeconds = 7
        }
        try await h.run { client, _ in
            #expect(try await Self.webhook(client, id: "before").status == .ok)
            try TestBroker.rabbitmqctl("stop_app")
            do {
                var statuses: [HTTPResponse.Status] = []
                for i in 0..<5 {
                    let start = ContinuousClock.now
                    let r = try await Self.webhook(client, id: "down-\(i)")
                    statuses.append(r.status)
                    #expect(ContinuousClock.now - start < .seconds(3) + .milliseconds(500), "answer within the deadline")
                    if r.status == .serviceUnavailable { #expect(r.headers[.retryAfter] == "7") }
                }
                #expect(statuses.allSatisfy { $0 == .serviceUnavailable }, "\(statuses)")
                let ready = try await client.execute(uri: "/readyz", method: .get)
                #expect(ready.status == .serviceUnavailable)
                #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
            } catch {
                _ = try? TestBroker.rabbitmqctl("start_app")
                throw error
            }
            try TestBroker.rabbitmqctl("start_app")
            #expect(try await eventually(timeout: .seconds(60)) {
                try await client.execute(uri: "/readyz", method: .get).status == .ok
            })
            #expect(try await Self.webhook(client, id: "after").status == .ok)
            try await h.observer.waitUntilConnected(timeout: .seconds(60))
            let ids = Set(try await h.take(2).compactMap(\.properties.messageId))
            #expect(ids == ["acme.myshopify.com/before", "acme.myshopify.com/after"])
        }
    }

    @Test func memoryAlarmGives503AndPublishingResumesWhenLifted() async throws {
        let h = try await IngestHarness.make("alarm") {
            $0.confirmTimeout = .seconds(1)
        }
        try await h.run { client, _ in
            #expect(try await Self.webhook(client, id: "before").status == .ok)
            try TestBroker.rabbitmqctl("set_vm_memory_high_watermark", "0")
            do {
                // The first publish may wait for its confirm until the deadline; later ones fail at once (blocked).
                for i in 0..<4 {
                    let start = ContinuousClock.now
                    let r = try await Self.webhook(client, id: "blocked-\(i)")
                    #expect(r.status == .serviceUnavailable)
                    #expect(r.headers[.retryAfter] != nil)
                    #expect(ContinuousClock.now - start < .seconds(1) + .milliseconds(500))
                }
                #expect(try await client.execute(uri: "/readyz", method: .get).status == .serviceUnavailable)
            } catch {
                _ = try? TestBroker.rabbitmqctl("set_vm_memory_high_watermark", "0.4")
                throw error
            }
            try TestBroker.rabbitmqctl("set_vm_memory_high_watermark", "0.4")
            #expect(try await eventually {
                try await client.execute(uri: "/readyz", method: .get).status == .ok
            })
            #expect(try await Self.webhook(client, id: "after").status == .ok)
            // A publish that timed out while blocked may still land once the alarm clears (at least once, the
            // sender retries it anyway); what matters is that "before" and "after" are there.
            #expect(try await eventually { try await h.depth() >= 2 })
            let ids = Set(try await h.take(Int(try await h.depth())).compactMap(\.properties.messageId))
            #expect(ids.isSuperset(of: ["acme.myshopify.com/before", "acme.myshopify.com/after"]))
        }
    }
}
