import Contracts
import Foundation
import StockwireTestSupport
import Testing

/// The hand-written availability JSON must mean exactly what Foundation's encoder would write.
@Suite struct AvailabilityJSONTests {
    static let alphabet: [String] = [
        "a", "Z", "0", " ", "\"", "\\", "/", "\n", "\r", "\t", "\u{0}", "\u{1}", "\u{1F}", "\u{7F}", "é", "ß", "€", "😀",
        "{", "}", ",", ":", "\u{2028}",
    ]

    static func string(_ g: inout SeededGenerator) -> String {
        (0..<Int.random(in: 0...12, using: &g)).map { _ in alphabet.randomElement(using: &g)! }.joined()
    }

    static func number(_ g: inout SeededGenerator) -> Int64 {
        [0, 1, -1, .max, .min, Int64.random(in: -1_000_000...1_000_000, using: &g)].randomElement(using: &g)!
    }

    @Test func writerOutputDecodesToTheSameMessageAsTheEncoders() throws {
        var g = SeededGenerator(seed: 20_261_127)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for round in 0..<2_000 {
            var m = AvailabilityMessage(
                sku: Self.string(&g), available: Self.number(&g), onHand: Self.number(&g), reserved: Self.number(&g),
                version: Self.number(&g), causes: (0..<Int.random(in: 0...3, using: &g)).map { _ in Self.string(&g) },
                computedAtMillis: Self.number(&g))
            if Bool.random(using: &g) { m.originShop = Self.string(&g) }
            if Bool.random(using: &g) { m.originQuantity = Self.number(&g) }
            if Bool.random(using: &g) {
                m.originQuantities = Dictionary(
                    (0..<Int.random(in: 0...3, using: &g)).map { _ in (Self.string(&g), Self.number(&g)) }) { a, _ in a }
            }
            if Bool.random(using: &g) { m.firstReceivedAtMillis = Self.number(&g) }
            if Bool.random(using: &g) {
                m.originSold = Dictionary(
                    (0..<Int.random(in: 0...3, using: &g)).map { _ in (Self.string(&g), Self.number(&g)) }) { a, _ in a }
            }
            func map() -> [String: Int64] {
                Dictionary((0..<Int.random(in: 0...3, using: &g)).map { _ in (Self.string(&g), Self.number(&g)) }) { a, _ in a }
            }
            if Bool.random(using: &g) { m.originRestocked = map() }
            if Bool.random(using: &g) { m.shares = map() }
            if Bool.random(using: &g) { m.soldTotals = map() }
            let written = try m.json()
            let decoded = try JSONDecoder().decode(AvailabilityMessage.self, from: Data(written))
            #expect(decoded == m, "round \(round): \(String(decoding: written, as: UTF8.self))")
            // Same keys and values as the encoder's output, as plain JSON objects.
            let ours = try JSONSerialization.jsonObject(with: Data(written)) as? NSDictionary
            let theirs = try JSONSerialization.jsonObject(with: encoder.encode(m)) as? NSDictionary
            #expect(ours == theirs, "round \(round)")
            if decoded != m || ours != theirs { break }
        }
    }

    @Test func controlCharactersAreEscapedAndKeysSorted() throws {
        let m = AvailabilityMessage(
            sku: "a\"b\\c\n\u{1}", available: 3, onHand: 5, reserved: 2, version: 7, causes: ["x/1"],
            originShop: "s", originQuantity: 1, computedAtMillis: 9)
        let text = String(decoding: try m.json(), as: UTF8.self)
        #expect(
            text
                == #"{"available":3,"causes":["x/1"],"computed_at_ms":9,"on_hand":5,"origin_quantity":1,"origin_shop":"s","reserved":2,"schema_version":1,"sku":"a\"b\\c\n\u0001","version":7}"#
        )
    }
}
