import AMQP
import Contracts
import Foundation
import Signing
import StockwireTestSupport
import Testing

@testable import ingest

/// Canary secrets: distinctive webhook secrets and a movement token are given to a real `ingest` process, which is
/// then driven through successes and every kind of failure at the most verbose log level. The canaries (and their
/// base64 and hex forms) must appear nowhere an operator or a sender can read: the log output, `/metrics`, any
/// response, the published events, or the output of a start that fails on its configuration.
@Suite struct SecretsCanaryIntegrationTests {
    static let secret = "cnry-whsec-Q7vX2pL9wT4k"
    static let oldSecret = "cnry-whsec-old-M3kT8rB6"
    static let token = "cnry-mvtok-Z5rW1nB4yH8c"
    static let shop = IngestHarness.shop

    /// Every form in which a canary could leak.
    static var needles: [String] {
        [secret, oldSecret, token].flatMap { canary in
            [
                canary, Data(canary.utf8).base64EncodedString(),
                canary.utf8.map { String(format: "%02x", $0) }.joined(),
            ]
        }
    }

    static func leaks(in text: String) -> [String] { needles.filter { text.contains($0) } }

    /// Secret files in a fresh folder: `acme`, `acme-old`, `movement-token`, each ending in a newline.
    static func secretFiles() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ingest-canary-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for (name, value) in [("acme", secret), ("acme-old", oldSecret), ("movement-token", token)] {
            try (value + "\n").write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        return directory
    }

    @Test func canarySecretsAppearInNoLogMetricResponseOrEvent() async throws {
        let files = try Self.secretFiles()
        defer { try? FileManager.default.removeItem(at: files) }
        let shops = "\(Self.shop)=\(files.appendingPathComponent("acme").path),\(files.appendingPathComponent("acme-old").path)"
        try await IngestProcess.withVirtualHost("canary") { amqpURL in
            let environment = [
                "STOCKWIRE_SHOPS": shops, "STOCKWIRE_MOVEMENT_TOKEN_FILE": files.appendingPathComponent("movement-token").path,
                "STOCKWIRE_AMQP_URL": amqpURL, "STOCKWIRE_LOG_LEVEL": "trace", "STOCKWIRE_INGEST_MAX_BODY_BYTES": "4096",
            ]
            let (responses, metrics, events, log) = try await IngestProcess.with(environment: environment) { ingest in
                let responses = await Self.driveThroughFailures(port: ingest.port)
                let metrics = await ingest.get("/metrics")
                let events = try await Self.publishedEvents(amqpURL, expecting: 3)
                await ingest.stop()  // the log of the shutdown too
                return (responses, metrics, events, ingest.output)
            }

            // What was read must be what an operator sees, or the absence of canaries proves nothing.
            #expect(responses.map(\.status) == Self.expectedStatuses, "\(responses.map(\.status))")
            #expect(
                log.contains("request refused") && log.contains("webhook accepted"), "trace log captured:\n\(log.prefix(3000))")
            #expect(metrics?.body.contains("stockwire_ingest_rejects_total") == true)
            #expect(events.count == 3)

            for (i, response) in responses.enumerated() {
                #expect(Self.leaks(in: response.rendered).isEmpty, "response \(i): \(response.rendered)")
            }
            #expect(Self.leaks(in: log).isEmpty, "log leaks \(Self.leaks(in: log))")
            let metricsText = metrics?.rendered ?? ""
            #expect(Self.leaks(in: metricsText).isEmpty, "\(metricsText)")
            for event in events { #expect(Self.leaks(in: event).isEmpty, "\(event)") }
        }
    }

    static let expectedStatuses = [200, 200, 401, 401, 401, 400, 400, 413, 413, 415, 405, 202, 401, 401, 400, 413, 415]

    /// Webhooks and movements, good and bad, each answer rendered in full.
    static func driveThroughFailures(port: Int) async -> [RawHTTPConnection.Response] {
        await onThread {
            var out: [RawHTTPConnection.Response] = []
            /// Sends `request` (only its head when the body is to be refused unread) and reads the answer.
            func send(_ request: [UInt8], headOnly: Bool = false) {
                var bytes = request
                if headOnly, let end = String(decoding: request, as: UTF8.self).range(of: "\r\n\r\n") {
                    bytes = Array(String(decoding: request, as: UTF8.self)[..<end.upperBound].utf8)
                }
                // 503 means the broker did not confirm yet (a fresh virtual host's quorum queue is still electing
                // its leader on a busy machine): send again, as Shopify and the warehouse do.
                var response = RawHTTPConnection.Response(status: -1, headers: [:], body: "")
                for attempt in 0..<20 {
                    if attempt > 0 { usleep(500_000) }
                    let c = RawHTTPConnection(port: port, receiveTimeout: .seconds(5))
                    c?.send(bytes)
                    response = c?.readResponse() ?? RawHTTPConnection.Response(status: -1, headers: [:], body: "")
                    if response.status != 503 { break }
                }
                out.append(response)
            }
            func webhook(
                _ body: [UInt8], secret: String = Self.secret, shop: String = Self.shop, topic: String = "orders/create",
                id: String = UUID().uuidString, extra: [(String, String)] = []
            ) -> [UInt8] {
                RawHTTPConnection.request(
                    path: "/webhooks/shopify",
                    headers: [
                        ("X-Shopify-Shop-Domain", shop),
                        ("X-Shopify-Hmac-Sha256", WebhookSignature.sign(body: body, secret: Array(secret.utf8))),
                        ("X-Shopify-Topic", topic), ("X-Shopify-Webhook-Id", id), ("Content-Type", "application/json"),
                    ] + extra, body: body)
            }
            func movements(
                _ body: String, authorization: String = "Bearer \(Self.token)", contentType: String = "application/json"
            ) -> [UInt8] {
                RawHTTPConnection.request(
                    path: "/stock-movements", headers: [("Authorization", authorization), ("Content-Type", contentType)],
                    body: Array(body.utf8))
            }
            let order = Array(#"{"id":1,"line_items":[]}"#.utf8)
            send(webhook(order, id: "wh-new"))  // 200
            send(webhook(order, secret: Self.oldSecret, id: "wh-old"))  // 200: the old secret during a rotation
            send(webhook(order, secret: Self.secret + "x"))  // 401: wrong secret
            send(webhook(order, shop: "evil.myshopify.com"))  // 401: unknown shop, though signed with a real secret
            let changed = String(decoding: webhook(order), as: UTF8.self)
                .replacingOccurrences(of: "\"line_items\"", with: "\"line_itemz\"")
            send(Array(changed.utf8))  // 401: the body is not the one signed
            send(webhook(order, topic: "orders/#"))  // 400 after verification
            send(webhook(order, id: "white space"))  // 400 after verification
            send(webhook([UInt8](repeating: 0x20, count: 5000)), headOnly: true)  // 413 on the declared length
            // 413 while reading: a chunked body that crosses the limit, under a signature header.
            var chunked = "POST /webhooks/shopify HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
            chunked += "X-Shopify-Shop-Domain: \(Self.shop)\r\nX-Shopify-Topic: orders/create\r\n"
            chunked += "X-Shopify-Webhook-Id: wh-big\r\n"
            chunked += "X-Shopify-Hmac-Sha256: \(WebhookSignature.sign(body: [1], secret: Array(Self.secret.utf8)))\r\n\r\n"
            chunked += "1388\r\n" + String(repeating: "z", count: 5000) + "\r\n"
            send(Array(chunked.utf8))
            send(webhook(order, extra: [("Content-Encoding", "gzip")]))  // 415
            send(Array("GET /webhooks/shopify HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8))  // 405
            send(movements(#"{"movement_id":"m-1","sku":"A","kind":"receipt","quantity":5}"#))  // 202
            let receipt = #"{"movement_id":"m-2","sku":"A","kind":"receipt","quantity":5}"#
            send(movements(receipt, authorization: "Bearer \(Self.token)x"))  // 401: a near miss of the token
            send(movements(receipt, authorization: "Basic \(Self.token)"))  // 401: the token, wrong scheme
            send(movements(#"{"movement_id":"m-4","sku":"A","kind":"teleport","quantity":5}"#))  // 400
            send(movements(#"{"note":"\#(String(repeating: "n", count: 5000))"}"#), headOnly: true)  // 413
            send(movements(#"{"movement_id":"m-5","sku":"A","kind":"receipt","quantity":5}"#, contentType: "text/plain"))  // 415
            return out
        }
    }

    /// The events ingest published (in its own virtual host), each rendered with its routing key, properties and
    /// body.
    static func publishedEvents(_ amqpURL: String, expecting count: Int) async throws -> [String] {
        var config = try AMQPConfiguration(url: amqpURL, connectionName: "canary-observer")
        config.reconnectDelay = .milliseconds(100)
        let observer = AMQPConnection(configuration: config, topology: [], logger: IngestHarness.logger)
        observer.start()
        try await observer.waitUntilConnected(timeout: .seconds(10))
        defer { Task { await observer.close() } }
        let queue = StockwireTopology.calculatorQueue
        guard try await eventually(timeout: .seconds(10), { try await observer.queueInfo(queue).messages >= count }) else {
            throw TestFailure("fewer than \(count) events in \(queue)")
        }
        return try await observer.take(count, from: queue).map {
            "\($0.routingKey) \($0.properties) \(String(decoding: $0.body, as: UTF8.self))"
        }
    }

    // MARK: - Configuration errors

    @Test func aStartThatFailsOnItsConfigurationNamesFilesNeverSecrets() async throws {
        let files = try Self.secretFiles()
        defer { try? FileManager.default.removeItem(at: files) }
        let acme = files.appendingPathComponent("acme").path
        let old = files.appendingPathComponent("acme-old").path
        let token = files.appendingPathComponent("movement-token").path
        let empty = files.appendingPathComponent("empty")
        try Data().write(to: empty)
        let shopsFile = files.appendingPathComponent("shops")
        try "# shops\n\(Self.shop)=\(acme),\(old)\nbeta.myshopify.com \(acme)\n".write(
            to: shopsFile, atomically: true, encoding: .utf8)
        let good = ["STOCKWIRE_SHOPS": "\(Self.shop)=\(acme),\(old)", "STOCKWIRE_MOVEMENT_TOKEN_FILE": token]
        let cases: [(String, [String: String], String)] = [
            ("a rotation file missing", ["STOCKWIRE_SHOPS": "\(Self.shop)=\(acme),\(files.path)/gone"], "gone"),
            ("an empty secret file", ["STOCKWIRE_SHOPS": "beta.myshopify.com=\(empty.path);\(Self.shop)=\(acme)"], "empty"),
            ("an empty token file", ["STOCKWIRE_MOVEMENT_TOKEN_FILE": empty.path], "empty"),
            ("a shop listed twice", ["STOCKWIRE_SHOPS": "\(Self.shop)=\(acme);\(Self.shop)=\(old)"], "twice"),
            (
                "a malformed shops file line", ["STOCKWIRE_SHOPS_FILE": shopsFile.path, "STOCKWIRE_SHOPS": ""],
                "beta.myshopify.com"
            ),
            ("a shop in both places", ["STOCKWIRE_SHOPS_FILE": files.appendingPathComponent("shops2").path], "both"),
            ("a bad port", ["STOCKWIRE_INGEST_PORT": "80a"], "STOCKWIRE_INGEST_PORT"),
            ("a bad body limit", ["STOCKWIRE_INGEST_MAX_BODY_BYTES": "0"], "STOCKWIRE_INGEST_MAX_BODY_BYTES"),
        ]
        try "\(Self.shop)=\(old)\n".write(to: files.appendingPathComponent("shops2"), atomically: true, encoding: .utf8)
        for (name, environment, named) in cases {
            let run = try await IngestProcess.runToExit(environment: good.merging(environment) { _, new in new })
            #expect(run.status == 78, "\(name): exit \(run.status)\n\(run.output)")
            #expect(run.output.contains("configuration error") && run.output.contains(named), "\(name):\n\(run.output)")
            #expect(Self.leaks(in: run.output).isEmpty, "\(name) leaks \(Self.leaks(in: run.output)):\n\(run.output)")
        }
    }
}
