import Contracts
import PropertyBased
import StockwireTestSupport
import Testing

@testable import StockCore
@testable import calculator

/// Random histories of order snapshots, refunds and movements, delivered duplicated and reordered, applied through
/// ``StockState`` with message-id dedupe, against a plain model computed from the distinct events.
@Suite struct StockModelPropertyTests {
    static let skus = ["A", "B", "C"]
    static let shop: ShopDomain = "p.myshopify.com"

    /// One generated step: (kind, order, line/sku selector, quantity, version).
    typealias Step = (Int, Int, Int, Int, Int)

    /// Turns generated numbers into a history of distinct events (each with its message id).
    static func history(_ steps: [Step]) -> [(String, StockEvent)] {
        var events: [(String, StockEvent)] = []
        var orderVersions: [Int: Int] = [:]
        for (i, (kind, order, sel, q, _)) in steps.enumerated() {
            let orderId = Int64(order)
            switch kind {
            case 0, 1:  // an order snapshot: lines 1…3 with quantities derived from the step
                let v = (orderVersions[order] ?? 0) + 1
                orderVersions[order] = v
                let lines: [OrderSnapshot.Line] = (0..<(1 + sel % 3)).map { n in
                    let quantity = Int64((q + n) % 5 + 1)
                    return .init(
                        lineId: orderId * 10 + Int64(n), sku: skus[(order + n) % skus.count], quantity: quantity,
                        currentQuantity: max(0, quantity - Int64((q * (n + 1)) % 3)))
                }
                events.append(
                    (
                        "\(shop)/o\(i)",
                        .order(
                            .init(shop: shop, orderId: orderId, updatedAtMillis: Int64(v), cancelled: q % 7 == 0, lines: lines))
                    ))
            case 2:
                events.append(("warehouse/r\(i)", Make.movement("r\(i)", .receipt, skus[sel % skus.count], Int64(q + 1))))
            case 3:
                events.append(
                    (
                        "warehouse/c\(i)",
                        Make.movement("c\(i)", .correction, skus[sel % skus.count], Int64(q - 3 == 0 ? 1 : q - 3))
                    ))
            case 4:
                let n = sel % 3
                events.append(
                    (
                        "warehouse/s\(i)",
                        Make.movement(
                            "s\(i)", .shipment, skus[(order + n) % skus.count], Int64(q % 2 + 1),
                            shop: shop.description, order: orderId, line: orderId * 10 + Int64(n))
                    ))
            default:
                events.append(
                    (
                        "\(shop)/rf\(i)",
                        Make.refund(
                            Int64(1000 + i), order: orderId, shop: shop,
                            [(orderId * 10 + Int64(sel % 3), Int64(q % 2 + 1), q % 2 == 0 ? "cancel" : "return")])
                    ))
            }
        }
        return events
    }

    /// The plain model: totals from the distinct events, the newest snapshot per order.
    static func expected(_ events: [(String, StockEvent)]) -> [String: (Int64, Int64)] {
        var onHand: [String: Int64] = [:]
        var newest: [Int64: OrderSnapshot] = [:]
        var shipped: [Int64: Int64] = [:]  // per line
        var shippedSku: [Int64: String] = [:]
        var cancelled: [Int64: Int64] = [:]
        for (_, e) in events {
            switch e {
            case .order(let o):
                if (newest[o.orderId]?.updatedAtMillis ?? -1) < o.updatedAtMillis { newest[o.orderId] = o }
            case .movements(let ms):
                for m in ms {
                    switch m.kind {
                    case .shipment:
                        onHand[m.sku, default: 0] -= m.quantity
                        shipped[m.lineItemId!, default: 0] += m.quantity
                        shippedSku[m.lineItemId!] = m.sku
                    default: onHand[m.sku, default: 0] += m.quantity
                    }
                }
            case .refund(let r):
                for l in r.lines where l.restockType == "cancel" { cancelled[l.lineId, default: 0] += l.quantity }
            default: break
            }
        }
        var reserved: [String: Int64] = [:]
        for o in newest.values where !o.cancelled {
            for l in o.lines {
                let open = max(0, min(l.currentQuantity, l.quantity - (cancelled[l.lineId] ?? 0)) - (shipped[l.lineId] ?? 0))
                reserved[l.sku, default: 0] += open
            }
        }
        var out: [String: (Int64, Int64)] = [:]
        for sku in skus { out[sku] = (onHand[sku] ?? 0, reserved[sku] ?? 0) }
        return out
    }

    static let stepGen = zip(
        Gen.int(in: 0...5), Gen.int(in: 1...4), Gen.int(in: 0...8), Gen.int(in: 0...6), Gen.int(in: 0...1))

    @Test func duplicatedAndReorderedDeliveriesConvergeToThePlainModel() async {
        await propertyCheck(
            count: 300, input: Self.stepGen.array(of: 1...40), Gen.int(in: 0...Int(Int32.max)), Gen.int(in: 0...3)
        ) { steps, seed, batchEvery in
            let events = Self.history(steps)
            // Deliver every event once, some twice, in a seeded shuffle.
            var rng = SeededGenerator(seed: UInt64(seed))
            var deliveries = events
            for e in events where rng.next() % 3 == 0 { deliveries.append(e) }
            deliveries.shuffle(using: &rng)

            var state = Make.state(skus: Self.skus)
            var applied = Set<String>()
            for (n, (id, event)) in deliveries.enumerated() {
                guard applied.insert(id).inserted else { continue }  // the dedupe table
                let outcome = state.apply(event, cause: Make.cause(id))
                if case .rejected(let reason) = outcome { Issue.record("rejected: \(reason)") }
                if batchEvery > 0, n % (batchEvery * 3) == 0 { _ = state.takeChanges(computedAtMillis: 0) }
            }
            _ = state.takeChanges(computedAtMillis: 0)
            let want = Self.expected(events)
            for sku in Self.skus {
                let got = state.skus[sku] ?? SkuStock()
                #expect(got.onHand == want[sku]!.0, "on_hand of \(sku)")
                #expect(got.reserved == want[sku]!.1, "reserved of \(sku)")
                #expect(got.available == max(0, want[sku]!.0 - want[sku]!.1), "available of \(sku)")
            }
        }
    }
}
