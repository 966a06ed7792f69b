import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import ingest

/// Size limits and slow clients, driven over raw sockets.
@Suite struct LimitsIntegrationTests {
    static func signedHeaders(body: [UInt8]) -> [(String, String)] {
        IngestHarness.webhookHeaders(body: body).map { ($0.name.rawName, $0.value) }
    }

    @Test func oversizedDeclaredBodyIs413BeforeTheBodyIsSent() async throws {
        let h = try await IngestHarness.make("413cl") {
            $0.maxBodyBytes = 1024
        }
        try await h.run { _, port in
            let result = await onThread { () -> (Int?, Bool) in
                guard let c = RawHTTPConnection(port: port, receiveTimeout: .seconds(5)) else { return (nil, false) }
                // Announce 10 MB and send only the head: the answer must come anyway, and the connection must close.
                var head = "POST /webhooks/shopify HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10000000\r\n"
                for (n, v) in Self.signedHeaders(body: [1]) { head += "\(n): \(v)\r\n" }
                c.send(head + "\r\n")
                let status = c.readResponse()?.status
                return (status, c.waitForClose())
            }
            #expect(result.0 == 413)
            #expect(result.1, "the connection is closed instead of reading the rest")
            _ = try await h.expectPublished([], port: port)
        }
    }

    @Test func oversizedChunkedBodyIsCutOffAtTheLimit() async throws {
        let h = try await IngestHarness.make("413chunked") {
            $0.maxBodyBytes = 4096
        }
        try await h.run { _, port in
            let result = await onThread { () -> (Int?, Bool) in
                guard let c = RawHTTPConnection(port: port, receiveTimeout: .seconds(5)) else { return (nil, false) }
                var head = "POST /webhooks/shopify HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
                for (n, v) in Self.signedHeaders(body: [1]) where n.lowercased() != "content-length" { head += "\(n): \(v)\r\n" }
                c.send(head + "\r\n")
                // 3 chunks of 2 KiB cross the 4 KiB limit; the client never ends the body.
                let chunk = "800\r\n" + String(repeating: "a", count: 2048) + "\r\n"
                for _ in 0..<3 { c.send(chunk) }
                let status = c.readResponse()?.status
                return (status, c.waitForClose())
            }
            #expect(result.0 == 413)
            #expect(result.1)
            _ = try await h.expectPublished([], port: port)
        }
    }

    @Test func slowlorisHeadIsClosedAfterTheIdleTimeout() async throws {
        let h = try await IngestHarness.make("slowloris") {
            $0.idleTimeout = .milliseconds(500)
        }
        try await h.run { _, port in
            let elapsed = await onThread { () -> Duration? in
                guard let c = RawHTTPConnection(port: port, receiveTimeout: .milliseconds(200)) else { return nil }
                let start = ContinuousClock.now
                c.send("POST /webhooks/shopify HTTP/1.1\r\nHost: localhost\r\n")
                // One header byte every 100 ms: the head never completes.
                for byte in Array("X-Shopify-Topic: orders/create-and-some-more-and-more\r\n".utf8) {
                    if !c.send([byte]) { return ContinuousClock.now - start }
                    if ContinuousClock.now - start > .seconds(5) { return nil }
                    Thread.sleep(forTimeInterval: 0.1)
                }
                c.setReceiveTimeout(.seconds(5))
                return c.waitForClose() ? ContinuousClock.now - start : nil
            }
            let closedAfter = try #require(elapsed, "the server kept the slow connection open")
            #expect(closedAfter < .seconds(5))
        }
    }

    @Test func drippingBodyGets408AfterTheReadTimeout() async throws {
        let h = try await IngestHarness.make("drip") {
            $0.idleTimeout = .seconds(2)
            $0.readTimeout = .milliseconds(600)
        }
        try await h.run { _, port in
            let status = await onThread { () -> Int? in
                guard let c = RawHTTPConnection(port: port, receiveTimeout: .milliseconds(50)) else { return nil }
                let body = [UInt8](repeating: 0x20, count: 100)
                var head = "POST /webhooks/shopify HTTP/1.1\r\nHost: localhost\r\nContent-Length: \(body.count)\r\n"
                for (n, v) in Self.signedHeaders(body: body) { head += "\(n): \(v)\r\n" }
                c.send(head + "\r\n")
                // A byte every 100 ms: never idle for long, but the whole body would take 10 s.
                for byte in body {
                    if !c.send([byte]) { break }
                    if let r = c.readResponse() { return r.status }
                    Thread.sleep(forTimeInterval: 0.05)
                }
                c.setReceiveTimeout(.seconds(3))
                return c.readResponse()?.status
            }
            #expect(status == 408)
            _ = try await h.expectPublished([], port: port)
        }
    }
}
