import Foundation
import Postgres
import ShopifySimulator

extension ProductDrop {
    /// What an engineer needs when the guard let the shops sell more than the stock: one timeline of the drop SKU
    /// across every shop — each level change with its cause (an order, or a write with its reference), each write
    /// that did not apply (stale, throttled) with its compare-and-set, every availability version the calculator
    /// published (shares, sold totals) in the order the broker routed them, and every write the exporter reported.
    /// Returns the file's path.
    func guardDiagnosis(sim: Simulator, sku: String, tapped: [AvailabilityTap.Message]) async throws -> String {
        var events: [(time: String, line: String)] = []
        for shop in stack.domains {
            let items = Set(try await sim.variants(shop: shop).filter { $0.sku == sku }.map(\.inventoryItemId))
            let gids = Set(items.map { "gid://shopify/InventoryItem/\($0)" })
            for change in try await sim.levelHistory(shop: shop) where items.contains(change.inventoryItemId) {
                events.append((change.time, "\(shop) level \(change.before) → \(change.after)  \(change.cause)"))
            }
            for w in await sim.writeLog(shop: shop) where w.operation == "inventorySetQuantities" {
                for q in w.quantities ?? [] where gids.contains(q.inventoryItemId) {
                    let reference = Checker.reference(w.variables) ?? "?"
                    events.append(
                        (w.time,
                         "\(shop) write #\(w.sequence) \(w.result): \(q.changeFromQuantity.map(String.init) ?? "null") → \(q.quantity) "
                            + "\(reference) key \(w.idempotencyKey ?? "-")"))
                }
            }
        }
        let db = try await PostgresConnection.connect(stack.conninfo)
        defer { Task { await db.close() } }
        for row in try await db.query(
            "SELECT shop, version, value, written_at_ms FROM shop_writes WHERE sku = $1 ORDER BY written_at_ms", [sku])
        {
            let ms = try row.decode(Int64.self, at: 3)
            events.append(
                (Timestamp.precise(Date(timeIntervalSince1970: Double(ms) / 1000)),
                 "\(try row.decode(String.self, at: 0)) reported v\(try row.decode(Int64.self, at: 1)) = \(try row.decode(Int64.self, at: 2))"))
        }
        var out = "Guard diagnosis of \(sku) (times UTC; reports are stamped when the exporter had Shopify's answer)\n\n"
        for (time, line) in events.sorted(by: { $0.time < $1.time }) { out += "\(time)  \(line)\n" }
        out += "\nAvailability versions as routed (computed_at_ms left out):\n"
        for m in tapped where m.sku == sku { out += "  v\(m.version) \(m.content)\n" }
        if let (_, body) = try? await HTTP.get("\(stack.calculatorOpsURL)/explain/\(sku)") { out += "\nexplain: \(body)\n" }
        let path = stack.work.appendingPathComponent("guard-diagnosis.txt")
        try out.write(to: path, atomically: true, encoding: .utf8)
        return path.path
    }
}
