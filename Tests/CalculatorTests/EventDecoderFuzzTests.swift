import AMQP
import Contracts
import Foundation
import StockwireTestSupport
import Testing

@testable import calculator

/// Seeded random mutations of valid payloads through ``EventDecoder``, the calculator's only parser of what ingest
/// accepted: a signed webhook body is published byte for byte, unparsed, so whatever a shop (or someone holding its
/// secret) signs reaches this code. Every input must either decode into an event the stock model can apply safely
/// or become poison with a clear reason (dead-lettered); a trap here would kill the calculator on every redelivery.
///
/// The seed is fixed, so a failure names its case and reproduces on every run.
@Suite struct EventDecoderFuzzTests {
    static let seed: UInt64 = 0x5707_C0DE_2026
    static let mutantsPerSample = 400

    // MARK: Valid samples

    struct Sample: Sendable {
        let topic: String
        let shop: ShopDomain?
        let body: String
    }

    static let samples: [Sample] = [
        Sample(
            topic: "orders/create", shop: "acme.myshopify.com",
            body: """
                {"id":5800000000000001,"updated_at":"2024-05-01T12:00:00-04:00","cancelled_at":null,"line_items":[\
                {"id":9007199254740993,"sku":"TEE-M","quantity":2,"current_quantity":2,"variant_id":null},\
                {"id":2,"sku":null,"quantity":1},{"id":3,"sku":"MUG","quantity":5,"current_quantity":4}]}
                """),
        Sample(
            topic: "orders/updated", shop: "acme.myshopify.com",
            body: """
                {"id":5800000000000001,"updated_at":"2024-05-01T12:05:00.250Z","cancelled_at":"2024-05-01T12:05:00Z",\
                "line_items":[{"id":9007199254740993,"sku":"TEE-M","quantity":2,"current_quantity":0}]}
                """),
        Sample(
            topic: "orders/edited", shop: "acme.myshopify.com",
            body: """
                {"id":7,"updated_at":"2024-05-01T12:00:00Z","committed_at":"2024-05-01T12:00:05Z",\
                "line_items":[{"id":70,"sku":"A","quantity":3,"current_quantity":1}]}
                """),
        Sample(
            topic: "refunds/create", shop: "beta.myshopify.com",
            body: """
                {"id":9007199254740995,"order_id":2,"refund_line_items":[\
                {"line_item_id":11,"quantity":2,"restock_type":"cancel"},\
                {"line_item_id":12,"quantity":1,"restock_type":"return"}]}
                """),
        Sample(
            topic: "inventory_levels/update", shop: "acme.myshopify.com",
            body:
                #"{"inventory_item_id":44000000000001,"location_id":61000000001,"available":3,"updated_at":"2024-05-01T12:00:00-04:00"}"#
        ),
        Sample(
            topic: "products/update", shop: "acme.myshopify.com",
            body: """
                {"id":3,"updated_at":"2024-05-01T12:00:00Z","variants":[\
                {"id":31,"sku":"A","inventory_item_id":9007199254740997},{"id":32,"sku":" ","inventory_item_id":null}]}
                """),
        Sample(
            topic: "receipt", shop: nil,
            body: #"{"movement_id":"m-1","sku":"TEE-M","kind":"receipt","quantity":5,"warehouse":"main","note":"PO 17"}"#),
        Sample(
            topic: "shipment", shop: nil,
            body: """
                {"movement_id":"m-2","sku":"TEE-M","kind":"shipment","quantity":1,"shop":"acme.myshopify.com",\
                "order_id":5800000000000001,"line_item_id":9007199254740993}
                """),
        Sample(
            topic: "stocktake", shop: nil,
            body: """
                [{"movement_id":"m-3","sku":"TEE-M","kind":"stocktake","quantity":40},\
                {"movement_id":"m-4","sku":"MUG","kind":"correction","quantity":-2}]
                """),
    ]

    // MARK: The fuzz run

    @Test func mutatedPayloadsEitherDecodeSafelyOrArePoisonWithAClearReason() {
        var rng = SeededGenerator(seed: Self.seed)
        var failures: [String] = []
        var outcomes = (events: 0, poison: 0)
        for (s, sample) in Self.samples.enumerated() {
            let original = Array(sample.body.utf8)
            // The unmutated sample must decode: otherwise the fuzzing below proves nothing.
            if case .poison(let reason) = Self.decode(original, sample) {
                failures.append("sample \(sample.topic) does not decode: \(reason)")
            }
            for i in 0..<Self.mutantsPerSample {
                var mutant = original
                var applied: [String] = []
                for _ in 0..<(1 + Int(rng.next() % 3)) {
                    applied.append(
                        Mutation.apply(to: &mutant, rng: &rng, donor: Array(Self.samples.randomElement(using: &rng)!.body.utf8)))
                }
                // Now and then the body goes to a topic it does not belong to (wrong types for every field).
                let target = rng.next() % 8 == 0 ? Self.samples.randomElement(using: &rng)! : sample
                let outcome = Self.decode(mutant, target)
                switch outcome {
                case .event: outcomes.events += 1
                case .poison: outcomes.poison += 1
                }
                if let problem = Self.problem(with: outcome, body: mutant, target: target) {
                    failures.append(
                        "sample \(s) (\(sample.topic)) mutant \(i) [\(applied.joined(separator: ", "))] as \(target.topic): "
                            + "\(problem); body \(Self.preview(mutant))")
                }
            }
        }
        #expect(failures.isEmpty, "seed \(Self.seed): \(failures.count) failures, first: \(failures.prefix(5))")
        // The mutations must exercise both ways out, or they are too weak (or too destructive) to mean anything.
        #expect(outcomes.events > 200 && outcomes.poison > 1000, "\(outcomes)")
    }

    /// Bodies ingest accepts when they are signed (it does not parse JSON), each named in the dead letter's reason.
    @Test(arguments: HostileBody.all)
    func hostileSignedBodyIsPoisonNamingTheProblem(_ hostile: HostileBody) {
        let sample = Sample(topic: hostile.topic, shop: hostile.topic.contains("/") ? "acme.myshopify.com" : nil, body: "")
        guard case .poison(let reason) = Self.decode(hostile.body, sample) else {
            Issue.record("\(hostile.name) decoded into an event")
            return
        }
        #expect(reason.contains(hostile.expected), "\(hostile.name): \(reason)")
        #expect(Self.problem(with: .poison(reason), body: hostile.body, target: sample) == nil)
    }

    // MARK: Oracle

    static func decode(_ body: [UInt8], _ sample: Sample) -> DecodedDelivery {
        let envelope = EventEnvelope(
            source: sample.shop == nil ? .warehouse : .shopify, shop: sample.shop, topic: sample.topic,
            deliveryId: "fuzz-1", receivedAtMillis: 1_714_579_200_000, body: body)
        return EventDecoder.decode(body: body, properties: envelope.message().properties)
    }

    /// What is wrong with the decoder's answer, or nil when it is one the calculator can act on.
    static func problem(with outcome: DecodedDelivery, body: [UInt8], target: Sample) -> String? {
        let maxQuantity = EventDecoder.maxQuantity
        switch outcome {
        case .poison(let reason):
            // "<source> <topic> <message id>: <what is wrong>", written by us, not a dump of a Swift error value.
            let source = target.shop == nil ? "warehouse" : "shopify"
            let messageId = target.shop.map { "\($0)/fuzz-1" } ?? "warehouse/fuzz-1"
            let prefix = "\(source) \(target.topic) \(messageId): "
            guard reason.hasPrefix(prefix) else { return "reason lacks the event's identity: \(reason.prefix(300))" }
            let message = reason.dropFirst(prefix.count)
            guard message.count >= 10 else { return "reason too short: \(reason)" }
            for dump in ["DecodingError", "Context(", "codingPath:", "NSCocoaErrorDomain", "Optional("]
            where message.contains(dump) {
                return "reason is a raw error dump: \(reason.prefix(300))"
            }
            guard message.utf8.count <= 1000 else { return "reason of \(message.utf8.count) bytes" }
            return nil
        case .event(let event, let cause, let shop, let topic):
            guard topic == target.topic, shop == target.shop, cause.messageId.hasSuffix("fuzz-1") else {
                return "event lost its envelope: \(topic) \(shop ?? "-") \(cause.messageId)"
            }
            switch event {
            case .order(let order):
                if let line = order.lines.first(where: {
                    !(0...maxQuantity).contains($0.quantity) || !(0...maxQuantity).contains($0.currentQuantity)
                }) {
                    return "order line quantity out of range: \(line)"
                }
                if order.lines.contains(where: { $0.sku.isEmpty }) { return "order line with an empty SKU" }
            case .refund(let refund):
                if let line = refund.lines.first(where: { $0.quantity > maxQuantity }) {
                    return "refund line quantity out of range: \(line)"
                }
            case .movements(let movements):
                if movements.isEmpty { return "no movements" }
                if let m = movements.first(where: { $0.quantity.magnitude > 1_000_000_000 || $0.movementId.isEmpty }) {
                    return "movement out of range: \(m)"
                }
            case .catalog, .ignored:
                break
            }
            return nil
        }
    }

    static func preview(_ body: [UInt8]) -> String {
        let head = body.prefix(160).map { $0 >= 0x20 && $0 < 0x7F ? String(UnicodeScalar($0)) : String(format: "\\x%02x", $0) }
        return "\(body.count) bytes: " + head.joined() + (body.count > 160 ? "…" : "")
    }
}

// MARK: - Hostile bodies

/// A correctly signed body that is not a usable payload, with the words its dead-letter reason must contain.
struct HostileBody: Sendable, CustomTestStringConvertible {
    let name: String
    let topic: String
    let body: [UInt8]
    let expected: String
    var testDescription: String { name }

    static let order = #"{"id":1,"updated_at":"2024-05-01T12:00:00Z","line_items":[{"id":2,"sku":"A","quantity":QTY}]}"#

    static func order(quantity: String) -> [UInt8] { Array(order.replacingOccurrences(of: "QTY", with: quantity).utf8) }

    static let all: [HostileBody] = [
        HostileBody(
            name: "nesting 100,000 deep", topic: "orders/create",
            body: Array((String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)).utf8),
            expected: "not valid JSON"),
        HostileBody(
            name: "objects nested 100,000 deep", topic: "orders/create",
            body: Array((String(repeating: #"{"a":"#, count: 100_000) + "1" + String(repeating: "}", count: 100_000)).utf8),
            expected: "not valid JSON"),
        HostileBody(
            name: "nesting inside a line item", topic: "orders/create",
            body: order(quantity: String(repeating: "[", count: 5_000) + String(repeating: "]", count: 5_000)),
            expected: "not valid JSON"),
        HostileBody(
            name: "quantity Int64.max", topic: "orders/create", body: order(quantity: "9223372036854775807"),
            expected: "quantities must be at most 1000000000"),
        HostileBody(
            name: "quantity beyond Int64", topic: "orders/create", body: order(quantity: "99999999999999999999"),
            expected: "a number does not fit its field"),
        HostileBody(
            name: "quantity 1e400", topic: "orders/create", body: order(quantity: "1e400"), expected: "not valid JSON"),
        HostileBody(
            name: "fractional quantity", topic: "orders/create", body: order(quantity: "1.5"),
            expected: "a number does not fit its field"),
        HostileBody(
            name: "refund of Int64.max units", topic: "refunds/create",
            body: Array(
                #"{"id":1,"order_id":2,"refund_line_items":[{"line_item_id":3,"quantity":9223372036854775807,"restock_type":"cancel"}]}"#
                    .utf8),
            expected: "quantity must be at most 1000000000"),
        HostileBody(
            name: "invalid UTF-8 in a SKU", topic: "orders/create",
            body: Array(#"{"id":1,"updated_at":"2024-05-01T12:00:00Z","line_items":[{"id":2,"sku":"A"#.utf8) + [0xFF, 0xC0, 0x80]
                + Array(#"","quantity":1}]}"#.utf8),
            expected: "not valid JSON"),
        HostileBody(
            name: "a lone surrogate escape", topic: "orders/create",
            body: Array(
                #"{"id":1,"updated_at":"2024-05-01T12:00:00Z","line_items":[{"id":2,"sku":"\uD800","quantity":1}]}"#.utf8),
            expected: "not valid JSON"),
        HostileBody(
            name: "a correction of 2^64 - 1 units (not -1)", topic: "correction",
            body: Array(#"{"movement_id":"m","sku":"A","kind":"correction","quantity":18446744073709551615}"#.utf8),
            expected: "quantity: must be a whole number"),
        HostileBody(
            name: "a correction of Int64.min units", topic: "correction",
            body: Array(#"{"movement_id":"m","sku":"A","kind":"correction","quantity":-9223372036854775808}"#.utf8),
            expected: "quantity: must be at most 1000000000 in size"),
        HostileBody(
            name: "gzip bytes", topic: "orders/create", body: [0x1F, 0x8B, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x03, 0x63, 0x00, 0x00],
            expected: "not valid JSON"),
    ]
}

// MARK: - Mutations

/// One random change to a body; returns its name for the failure message.
enum Mutation {
    /// Numbers around the edges of `Int64`, `Double` and JSON's grammar.
    static let numbers = [
        "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
        "99999999999999999999", "18446744073709551616", "1e400", "-1e400", "1e18", "4.0", "1.5", "-0", "0.0000001",
        "1E+2", "NaN", "Infinity", "-", "01", "0x10", "1000000001", "-1",
    ]
    /// Values of every JSON type, to put where another type belongs.
    static let values = [
        "null", "true", "false", "\"\"", "\"text\"", "{}", "[]", "[1,2]", "{\"id\":1}", "0", "-1", "\"2024-05-01T12:00:00Z\"",
        "\"9007199254740993\"", "\"\\u0000\"", "\"\\uD800\"",
    ]
    static let invalidUTF8: [[UInt8]] = [
        [0xFF], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0x80], [0xE2, 0x82], [0xF4, 0x90, 0x80, 0x80],
    ]
    static let depths = [2, 10, 100, 511, 513, 2_000]

    static func apply(to body: inout [UInt8], rng: inout SeededGenerator, donor: [UInt8]) -> String {
        func index(_ count: Int) -> Int { count == 0 ? 0 : Int(rng.next() % UInt64(count)) }
        var tokens = Token.scan(body)
        let valueTokens = tokens.indices.filter { tokens[$0].isValue(followedBy: $0 + 1 < tokens.count ? tokens[$0 + 1] : nil) }
        switch rng.next() % 12 {
        case 0:
            guard !body.isEmpty else { return "flip (empty)" }
            let i = index(body.count)
            body[i] ^= 1 << UInt8(rng.next() % 8)
            return "flip bit at \(i)"
        case 1:
            guard !body.isEmpty else { return "set (empty)" }
            let i = index(body.count)
            body[i] = UInt8(truncatingIfNeeded: rng.next())
            return "set byte at \(i)"
        case 2:
            let n = index(body.count)
            body.removeSubrange(n...)
            return "truncate to \(n)"
        case 3:
            guard body.count > 1 else { return "delete (short)" }
            let a = index(body.count)
            let b = min(body.count, a + 1 + index(16))
            body.removeSubrange(a..<b)
            return "delete \(a)..<\(b)"
        case 4:
            guard !body.isEmpty else { return "duplicate (empty)" }
            let a = index(body.count)
            let b = min(body.count, a + 1 + index(64))
            body.insert(contentsOf: body[a..<b], at: index(body.count))
            return "duplicate \(a)..<\(b)"
        case 5:
            let bad = invalidUTF8[index(invalidUTF8.count)]
            let strings = tokens.indices.filter { tokens[$0].kind == .string }
            if let s = strings.randomElement(using: &rng) {
                tokens[s].bytes.insert(contentsOf: bad, at: 1 + index(tokens[s].bytes.count - 1))
                body = Token.join(tokens)
                return "invalid UTF-8 \(bad) in a string"
            }
            body.insert(contentsOf: bad, at: index(body.count + 1))
            return "invalid UTF-8 \(bad)"
        case 6:
            let numbersAt = tokens.indices.filter { tokens[$0].kind == .number }
            guard let n = numbersAt.randomElement(using: &rng) else { return "number (none)" }
            let text = numbers[index(numbers.count)]
            tokens[n].bytes = Array(text.utf8)
            body = Token.join(tokens)
            return "number \(text)"
        case 7:
            guard let v = valueTokens.randomElement(using: &rng) else { return "type (none)" }
            let text = values[index(values.count)]
            tokens[v] = Token(kind: .literal, bytes: Array(text.utf8))
            body = Token.join(tokens)
            return "value \(text)"
        case 8:
            guard let v = valueTokens.randomElement(using: &rng) else { return "nest (none)" }
            let depth = depths[index(depths.count)]
            let objects = rng.next() % 2 == 0
            let open = objects ? Array(#"{"a":"#.utf8) : [UInt8(ascii: "[")]
            tokens[v].bytes =
                Array(repeating: open, count: depth).flatMap { $0 } + tokens[v].bytes
                + Array(repeating: objects ? UInt8(ascii: "}") : UInt8(ascii: "]"), count: depth)
            body = Token.join(tokens)
            return "nest \(depth) \(objects ? "objects" : "arrays")"
        case 9:
            let depth = depths[index(depths.count)]
            body = Array(repeating: UInt8(ascii: "["), count: depth) + body + Array(repeating: UInt8(ascii: "]"), count: depth)
            return "wrap in \(depth) arrays"
        case 10:
            let keys = tokens.indices.filter {
                tokens[$0].kind == .string && $0 + 1 < tokens.count && tokens[$0 + 1].bytes == [UInt8(ascii: ":")]
            }
            guard let k = keys.randomElement(using: &rng) else { return "key (none)" }
            let replacement = [
                "\"x\"", "\"ID\"", "\"id\"", "\"quantity\"", "\"line_items\"", "\"\"",
                "\"" + String(repeating: "k", count: 3000) + "\"",
            ]
            let text = replacement[index(replacement.count)]
            tokens[k].bytes = Array(text.utf8)
            body = Token.join(tokens)
            return "key \(text.prefix(12))"
        default:
            guard !donor.isEmpty else { return "splice (empty)" }
            let a = index(donor.count)
            let b = min(donor.count, a + 1 + index(80))
            body.insert(contentsOf: donor[a..<b], at: index(body.count + 1))
            return "splice \(b - a) bytes"
        }
    }
}

/// A JSON token of a (valid) sample, kept as its bytes, so that mutations can replace whole values.
struct Token {
    enum Kind { case punctuation, string, number, literal }
    var kind: Kind
    var bytes: [UInt8]

    /// Whether this token is a whole scalar value (not a key).
    func isValue(followedBy next: Token?) -> Bool {
        switch kind {
        case .number, .literal: return true
        case .string: return next?.bytes != [UInt8(ascii: ":")]
        case .punctuation: return false
        }
    }

    static func scan(_ body: [UInt8]) -> [Token] {
        var tokens: [Token] = []
        var i = 0
        while i < body.count {
            let c = body[i]
            switch c {
            case UInt8(ascii: "\""):
                var j = i + 1
                while j < body.count, body[j] != UInt8(ascii: "\"") { j += body[j] == UInt8(ascii: "\\") ? 2 : 1 }
                j = min(j + 1, body.count)
                tokens.append(Token(kind: .string, bytes: Array(body[i..<j])))
                i = j
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                var j = i + 1
                while j < body.count, "0123456789.eE+-".utf8.contains(body[j]) { j += 1 }
                tokens.append(Token(kind: .number, bytes: Array(body[i..<j])))
                i = j
            case UInt8(ascii: "a")...UInt8(ascii: "z"):
                var j = i + 1
                while j < body.count, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(body[j]) { j += 1 }
                tokens.append(Token(kind: .literal, bytes: Array(body[i..<j])))
                i = j
            default:
                tokens.append(Token(kind: .punctuation, bytes: [c]))
                i += 1
            }
        }
        return tokens
    }

    static func join(_ tokens: [Token]) -> [UInt8] { tokens.flatMap(\.bytes) }
}
