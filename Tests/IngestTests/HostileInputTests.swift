import AMQP
import Foundation
import HTTPTypes
import Signing
import Testing

@testable import ingest

/// Hostile requests over raw sockets, so that every byte on the wire is the test's: duplicated and malformed
/// signatures, bodies that differ from what was signed, cut short, compressed, or valid but absurd. Each gets its
/// documented answer (Services/ingest/README.md), and nothing unverified reaches the broker. The cases WebhookTests
/// and LimitsTests already cover (missing or wrong HMAC, hex digest, unknown shop, old secret, wrong method,
/// oversized and slow bodies) are not repeated here.
@Suite struct HostileInputIntegrationTests {
    static let path = "/webhooks/shopify"

    /// The headers Shopify sends for `body`, signed with the shop's secret, in wire order.
    static func headers(
        body: [UInt8], signature: String? = nil, contentType: String? = "application/json", webhookId: String = UUID().uuidString
    ) -> [(String, String)] {
        var h: [(String, String)] = [
            ("X-Shopify-Shop-Domain", IngestHarness.shop),
            ("X-Shopify-Hmac-Sha256", signature ?? sign(body)),
            ("X-Shopify-Topic", "orders/create"), ("X-Shopify-Webhook-Id", webhookId),
            ("X-Shopify-API-Version", "2026-10"),
        ]
        if let contentType { h.append(("Content-Type", contentType)) }
        return h
    }

    static func sign(_ body: [UInt8], secret: String = IngestHarness.secret) -> String {
        WebhookSignature.sign(body: body, secret: Array(secret.utf8))
    }

    /// Sends `request` on a new connection and reads one answer (nil when the server closed without one).
    static func exchange(_ port: Int, _ request: [UInt8]) async -> RawHTTPConnection.Response? {
        await onThread {
            guard let c = RawHTTPConnection(port: port, receiveTimeout: .seconds(5)) else { return nil }
            c.send(request)
            return c.readResponse()
        }
    }

    static func post(_ port: Int, body: [UInt8], headers: [(String, String)]) async -> RawHTTPConnection.Response? {
        await exchange(port, RawHTTPConnection.request(path: path, headers: headers, body: body))
    }

    // MARK: - Signatures

    @Test func aDuplicatedShopifyHeaderIsRefusedNeverEitherOneMatches() async throws {
        let h = try await IngestHarness.make("dup-headers")
        let body = Array(ShopifyVector.body.utf8)
        let valid = Self.sign(body)
        let wrong = Self.sign(body, secret: "not-the-secret")
        func with(_ name: String, _ values: [String]) -> [(String, String)] {
            Self.headers(body: body).filter { $0.0 != name } + values.map { (name, $0) }
        }
        let cases: [(String, [(String, String)], Int)] = [
            ("valid then wrong signature", with("X-Shopify-Hmac-Sha256", [valid, wrong]), 401),
            ("wrong then valid signature", with("X-Shopify-Hmac-Sha256", [wrong, valid]), 401),
            ("the valid signature twice", with("X-Shopify-Hmac-Sha256", [valid, valid]), 401),
            (
                "wrong X- signature, valid unprefixed one",
                with("X-Shopify-Hmac-Sha256", [wrong]) + [("Shopify-Hmac-Sha256", valid)], 401
            ),
            ("two shop domains", with("X-Shopify-Shop-Domain", [IngestHarness.shop, "beta.myshopify.com"]), 401),
            ("two topics", with("X-Shopify-Topic", ["orders/create", "orders/cancelled"]), 400),
            ("two webhook ids", with("X-Shopify-Webhook-Id", ["wh-a", "wh-b"]), 400),
        ]
        try await h.run { _, port in
            for (name, headers, status) in cases {
                let response = await Self.post(port, body: body, headers: headers)
                #expect(response?.status == status, "\(name)")
                #expect(response?.body.contains("\"error\"") == true, "\(name): \(response?.body ?? "no answer")")
            }
            // The same request with each header once is accepted: the refusals above are about the duplicates.
            let control = await Self.post(port, body: body, headers: Self.headers(body: body, webhookId: "wh-control"))
            #expect(control?.status == 200)
            _ = try await h.expectPublished(["\(IngestHarness.shop)/wh-control"], port: port)
        }
    }

    @Test func emptyAndMisencodedSignaturesAreRefused() async throws {
        let h = try await IngestHarness.make("bad-encodings")
        // A body whose signature contains '+' or '/', so that its base64url form differs from it.
        let body = (0..<100).lazy.map { Array(#"{"id":\#($0)}"#.utf8) }.first {
            Self.sign($0).contains("+") || Self.sign($0).contains("/")
        }!
        let valid = Self.sign(body)
        let digest = WebhookSignature.hmacSHA256(key: Array(IngestHarness.secret.utf8), message: body)
        let hex = digest.map { String(format: "%02x", $0) }.joined()
        let cases: [(String, String)] = [
            ("empty", ""),
            ("only spaces", "   "),
            ("base64 of the hex digest", Data(hex.utf8).base64EncodedString()),
            ("base64url", valid.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")),
            ("without padding", valid.replacingOccurrences(of: "=", with: "")),
            ("half the digest", Data(digest.prefix(16)).base64EncodedString()),
            ("the signature twice", valid + valid),
            ("prefixed like GitHub's", "sha256=" + valid),
        ]
        try await h.run { _, port in
            for (name, signature) in cases {
                let response = await Self.post(port, body: body, headers: Self.headers(body: body, signature: signature))
                #expect(response?.status == 401, "\(name)")
            }
            _ = try await h.expectPublished([], port: port)
        }
    }

    @Test func aSignatureOverReserialisedJSONIsRefused() async throws {
        let h = try await IngestHarness.make("reserialised")
        // Shopify signs the bytes it sends. A sender (or a proxy) that parses and re-serialises the JSON changes
        // them, and the signature of the original no longer holds, whatever the JSON means.
        let signature = ShopifyVector.signature
        let variants = [
            "pretty-printed": #"{ "id": 1234567890, "email": "customer@example.com", "total_price": "123.45" }"#,
            "keys reordered": #"{"email":"customer@example.com","id":1234567890,"total_price":"123.45"}"#,
            "escaped slash and at-sign": #"{"id":1234567890,"email":"customer\u0040example.com","total_price":"123.45"}"#,
            "number as written by a float formatter":
                #"{"id":1.23456789E9,"email":"customer@example.com","total_price":"123.45"}"#,
            "trailing newline": ShopifyVector.body + "\n",
        ]
        try await h.run { _, port in
            for (name, text) in variants {
                let body = Array(text.utf8)
                let response = await Self.post(port, body: body, headers: Self.headers(body: body, signature: signature))
                #expect(response?.status == 401, "\(name)")
            }
            let exact = Array(ShopifyVector.body.utf8)
            let control = await Self.post(
                port, body: exact, headers: Self.headers(body: exact, signature: signature, webhookId: "wh-exact"))
            #expect(control?.status == 200)
            let published = try await h.expectPublished(["\(IngestHarness.shop)/wh-exact"], port: port)
            #expect(published.first?.body == exact)
        }
    }

    // MARK: - Bodies that are not what was announced

    @Test func aBodyCutShortIsNeverPublishedEvenWhenThePartSentIsSigned() async throws {
        let h = try await IngestHarness.make("truncated")
        let full = Array(#"{"id":5800000000000001,"line_items":[{"sku":"A","quantity":1}],"note":"cut here"}"#.utf8)
        let sent = Array(full.prefix(full.count - 20))
        try await h.run { _, port in
            // Signed over the part actually sent (so it would verify if ingest took the end of the connection for
            // the end of the body), and signed over the whole body; either way the sender stops early.
            for (name, signedOver) in [("the part sent", sent), ("the whole body", full)] {
                let answer = await onThread { () -> (Int?, Bool) in
                    guard let c = RawHTTPConnection(port: port, receiveTimeout: .seconds(5)) else { return (nil, false) }
                    let request = RawHTTPConnection.request(
                        path: Self.path, headers: Self.headers(body: signedOver), body: full)
                    c.send(Array(request.prefix(request.count - 20)))
                    c.finishSending()
                    let status = c.readResponse()?.status
                    return (status, c.waitForClose())
                }
                // The end of the connection is not the end of the body: 400, the body could not be read.
                #expect(answer.0 == 400, "signed over \(name): \(String(describing: answer.0))")
                #expect(answer.1, "signed over \(name): the connection is closed")
            }
            _ = try await h.expectPublished([], port: port)
        }
    }

    @Test func aCompressedBodyIs415AndNeverRead() async throws {
        let h = try await IngestHarness.make("gzip")
        let bomb = GzipBomb.make(expandingTo: 8 << 20)
        #expect(bomb.count < 60_000, "\(bomb.count) bytes that inflate to 8 MiB")
        try await h.run { _, port in
            // Signed over the compressed bytes, announced with its length or chunked: refused on the head alone,
            // and the connection closes instead of reading (or inflating) the body.
            let framings = [("Content-Length", "\(bomb.count)"), ("Transfer-Encoding", "chunked")]
            for encoding in ["gzip", "deflate", "br", "gzip, identity", "x-gzip"] {
                for (name, value) in framings {
                    let answer = await onThread { () -> (RawHTTPConnection.Response?, Bool) in
                        guard let c = RawHTTPConnection(port: port, receiveTimeout: .seconds(5)) else { return (nil, false) }
                        var head = "POST \(Self.path) HTTP/1.1\r\nHost: localhost\r\n\(name): \(value)\r\n"
                        for (n, v) in Self.headers(body: bomb) + [("Content-Encoding", encoding)] { head += "\(n): \(v)\r\n" }
                        c.send(head + "\r\n")
                        let response = c.readResponse()
                        return (response, c.waitForClose())
                    }
                    #expect(answer.0?.status == 415, "\(encoding), \(name)")
                    #expect(answer.0?.body.contains("Content-Encoding") == true, "\(encoding), \(name)")
                    #expect(answer.1, "\(encoding), \(name): the connection is closed")
                }
            }
            // `identity` is no encoding at all.
            let plain = Array(#"{"id":1}"#.utf8)
            let identity = await Self.post(
                port, body: plain,
                headers: Self.headers(body: plain, webhookId: "wh-identity") + [("Content-Encoding", "identity")])
            #expect(identity?.status == 200)
            _ = try await h.expectPublished(["\(IngestHarness.shop)/wh-identity"], port: port)
        }
    }

    @Test func aContentTypeOtherThanJSONIs415() async throws {
        let h = try await IngestHarness.make("content-type")
        let body = Array(#"{"id":1}"#.utf8)
        let refused = [
            "text/plain", "application/x-www-form-urlencoded", "application/xml", "multipart/form-data; boundary=x", "json",
        ]
        let accepted: [(String?, String)] = [
            ("application/json; charset=utf-8", "wh-charset"), ("Application/JSON", "wh-case"),
            ("application/vnd.shopify+json", "wh-suffix"), (nil, "wh-none"),
        ]
        try await h.run { _, port in
            for type in refused {
                let response = await Self.post(port, body: body, headers: Self.headers(body: body, contentType: type))
                #expect(response?.status == 415, "\(type)")
                #expect(response?.body.contains("Content-Type") == true, "\(type)")
            }
            for (type, id) in accepted {
                let response = await Self.post(
                    port, body: body, headers: Self.headers(body: body, contentType: type, webhookId: id))
                #expect(response?.status == 200, "\(type ?? "no Content-Type")")
            }
            // The warehouse endpoint follows the same rule, even with the right token.
            let movement = Array(#"{"movement_id":"m-ct","sku":"A","kind":"receipt","quantity":1}"#.utf8)
            let form = await Self.exchange(
                port,
                RawHTTPConnection.request(
                    path: "/stock-movements",
                    headers: [("Authorization", "Bearer \(IngestHarness.token)"), ("Content-Type", "text/plain")], body: movement)
            )
            #expect(form?.status == 415)
            _ = try await h.expectPublished(Set(accepted.map { "\(IngestHarness.shop)/\($0.1)" }), port: port)
        }
    }

    // MARK: - Signed but absurd

    /// Ingest does not parse webhook JSON: a signed body is the shop's word, published byte for byte, and the
    /// calculator dead-letters what it cannot read, with the reason (EventDecoderFuzzTests covers that side).
    @Test func signedButUnparseableBodiesAreAcceptedAndPublishedByteForByte() async throws {
        let h = try await IngestHarness.make("absurd")
        let bodies: [String: [UInt8]] = [
            "wh-nested": Array((String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)).utf8),
            "wh-huge": Array(#"{"id":99999999999999999999999,"line_items":[{"sku":"A","quantity":1e400}]}"#.utf8),
            "wh-utf8": Array(#"{"id":1,"line_items":[{"sku":""#.utf8) + [0xFF, 0xC0, 0x80, 0xED, 0xA0, 0x80]
                + Array(#""}]}"#.utf8),
            "wh-empty": [],
        ]
        try await h.run { _, port in
            for (id, body) in bodies {
                let response = await Self.post(port, body: body, headers: Self.headers(body: body, webhookId: id))
                #expect(response?.status == 200, "\(id)")
            }
            let published = try await h.expectPublished(Set(bodies.keys.map { "\(IngestHarness.shop)/\($0)" }), port: port)
            for m in published {
                let id = String(m.properties.messageId?.split(separator: "/").last ?? "")
                #expect(m.body == bodies[id], "\(id) arrives byte for byte")
            }
        }
    }

    /// Movements are parsed by ingest; numbers that do not fit, or do not mean what they say, are 400.
    @Test func movementsWithAbsurdNumbersOrBytesAre400AndNothingIsPublished() async throws {
        let h = try await IngestHarness.make("mv-absurd")
        func movement(_ quantity: String, kind: String = "correction") -> [UInt8] {
            Array(#"{"movement_id":"m-1","sku":"A","kind":"\#(kind)","quantity":\#(quantity)}"#.utf8)
        }
        let cases: [(String, [UInt8])] = [
            ("Int64.min correction", movement("-9223372036854775808")),
            ("Int64.max correction", movement("9223372036854775807")),
            ("2^63 receipt", movement("9223372036854775808", kind: "receipt")),
            ("2^64 - 1 correction (not -1)", movement("18446744073709551615")),
            ("2^64 + 5 receipt (not 5)", movement("18446744073709551621", kind: "receipt")),
            ("1e400", movement("1e400")),
            ("fraction", movement("2.5", kind: "receipt")),
            (
                "nested 100,000 deep",
                Array((String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)).utf8)
            ),
            (
                "invalid UTF-8 in the SKU",
                Array(#"{"movement_id":"m-1","sku":"A"#.utf8) + [0xFF] + Array(#"","kind":"receipt","quantity":1}"#.utf8)
            ),
        ]
        try await h.run { _, port in
            for (name, body) in cases {
                let response = await Self.exchange(
                    port,
                    RawHTTPConnection.request(
                        path: "/stock-movements",
                        headers: [("Authorization", "Bearer \(IngestHarness.token)"), ("Content-Type", "application/json")],
                        body: body))
                #expect(response?.status == 400, "\(name): \(response?.body ?? "no answer")")
            }
            _ = try await h.expectPublished([], port: port)
        }
    }
}

/// A valid gzip stream of `size` zero bytes that is about a thousandth of that: one fixed-Huffman deflate block of
/// a literal zero followed by back-references of 258 bytes at distance 1.
enum GzipBomb {
    static func make(expandingTo size: Int) -> [UInt8] {
        var out: [UInt8] = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3]  // gzip header: deflate, no name, Unix
        var bits = BitWriter()
        bits.write(1, count: 1)  // final block
        bits.write(1, count: 2)  // fixed Huffman codes
        bits.writeCode(0x30, length: 8)  // literal 0x00
        let references = (size - 1) / 258
        for _ in 0..<references {
            bits.writeCode(0b1100_0101, length: 8)  // length 258 (symbol 285)
            bits.writeCode(0, length: 5)  // distance 1 (code 0)
        }
        var remaining = size - 1 - references * 258
        while remaining > 0 {
            bits.writeCode(0x30, length: 8)
            remaining -= 1
        }
        bits.writeCode(0, length: 7)  // end of block (symbol 256)
        out += bits.bytes()
        var crc = CRC32()
        let zeros = [UInt8](repeating: 0, count: 1 << 16)
        var left = size
        while left > 0 {
            crc.update(zeros.prefix(min(left, zeros.count)))
            left -= min(left, zeros.count)
        }
        for value in [crc.value, UInt32(truncatingIfNeeded: size)] {
            for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
        }
        return out
    }

    struct BitWriter {
        private var buffer: [UInt8] = []
        private var current: UInt32 = 0
        private var used = 0

        /// Writes `value`'s low `count` bits, least significant first (deflate's header fields).
        mutating func write(_ value: UInt32, count: Int) {
            for i in 0..<count { push((value >> UInt32(i)) & 1) }
        }

        /// Writes a Huffman code, most significant bit first.
        mutating func writeCode(_ code: UInt32, length: Int) {
            for i in stride(from: length - 1, through: 0, by: -1) { push((code >> UInt32(i)) & 1) }
        }

        private mutating func push(_ bit: UInt32) {
            current |= bit << UInt32(used)
            used += 1
            if used == 8 {
                buffer.append(UInt8(current))
                current = 0
                used = 0
            }
        }

        func bytes() -> [UInt8] { used > 0 ? buffer + [UInt8(current)] : buffer }
    }

    struct CRC32 {
        private static let table: [UInt32] = (0..<256).map { n in
            var c = UInt32(n)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            return c
        }
        private var crc: UInt32 = 0xFFFF_FFFF

        mutating func update(_ bytes: ArraySlice<UInt8>) {
            for b in bytes { crc = Self.table[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
        }

        var value: UInt32 { crc ^ 0xFFFF_FFFF }
    }
}
