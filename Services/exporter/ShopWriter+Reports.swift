import AMQP
import Contracts
import ExporterCore
import Foundation
import Metrics

// What a writer tells others: write reports for the calculator, log lines and counts for operators.
extension ShopWriter {
    /// Tells the calculator what was written (`stockwire.writes`), for `calculator explain` and, for SKUs under the
    /// zero-oversell guard, as the confirmation that frees units (with the units held back and the version's
    /// sold total: see `WriteReport.Write`). Best effort and off the write path: a report that cannot be published
    /// is only logged (the guard then frees those units with a later report).
    ///
    /// Writes of SKUs without the guard are gathered and reported together (``Tuning/reportInterval``): nothing waits
    /// for them but `explain`, and one report per write cost each webhook 4 more publishes, queue copies, acks and an
    /// SQL statement at 85 events/s over 4 shops, when each change is a write of its own (BENCHMARKS.md, issue #19).
    /// `key`: the idempotency key of the mutation that wrote them, nil when nothing was sent (levels already held).
    func report(
        quantities: [ShopPlatform.Quantity], owner: [Int], entries: [Entry], heldBack: [String: Int64],
        soldSeen: [String: Int64], key: String? = nil
    ) {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        var seen = Set<Int>()
        var writes: [WriteReport.Write] = []
        for (q, e) in zip(quantities, owner) where q.inventoryItemId == entries[e].items.first && seen.insert(e).inserted {
            let m = entries[e].pending.message
            let guarded = m.shares != nil
            writes.append(
                .init(
                    sku: m.sku, version: m.version, value: q.quantity, writtenAtMillis: now,
                    firstReceivedAtMillis: m.firstReceivedAtMillis,
                    heldBack: guarded ? heldBack[q.inventoryItemId] ?? 0 : nil,
                    soldTotal: guarded ? soldSeen[m.sku] ?? m.soldTotals?[shop.domain.description] ?? 0 : nil, idempotencyKey: key
                ))
        }
        guard !writes.isEmpty else { return }
        unreported.append(contentsOf: writes)
        // A guarded write frees units another shop may be waiting for: it goes at once, with what waits beside it.
        if writes.contains(where: { $0.soldTotal != nil }) || unreported.count >= tuning.maxBatch { flushReports() }
    }

    /// Publishes the writes not reported yet as one report. ``reportLoop()`` calls it every
    /// ``Tuning/reportInterval``; a guarded write or a full batch calls it at once.
    func flushReports() {
        guard !unreported.isEmpty else { return }
        defer { unreported.removeAll(keepingCapacity: true) }
        guard let body = try? WriteReport(shop: shop.domain, writes: unreported).json() else { return }
        metrics.reports.increment()
        let message = AMQPMessage(
            exchange: StockwireTopology.writesExchange, routingKey: shop.domain.description, body: body,
            properties: WriteReport.properties(), mandatory: false)
        let connection = connection
        let logger = logger
        Task {
            do {
                try await connection.publish(message, timeout: .seconds(10))
            } catch {
                logger.debug("write report not published (explain misses it)", metadata: ["error": "\(error)"])
            }
        }
    }

    /// One log line and a count when an item of `sku` turns out to be one no written level protects.
    func reportUnprotectable(sku: String, _ reason: ShopCatalog.Unprotectable) {
        let why =
            reason == .untracked
            ? "Shopify does not track this item's inventory, so it never counts it down: turn on \"Track quantity\" for the variant"
            : "the variant is a bundle parent: Shopify computes its stock from its components, which Stockwire writes"
        logger.warning("item not written: \(why)", metadata: ["sku": "\(sku)", "reason": "\(reason.rawValue)"])
        Counter(
            label: "stockwire_exporter_unprotectable_items_total",
            dimensions: [("shop", shop.domain.description), ("reason", reason.rawValue)]
        )
        .increment()
    }

    /// One log line and a count when an item of `sku` turns out to sell beyond its stock (inventory policy CONTINUE).
    func reportSellsBeyondStock(sku: String) {
        logger.warning(
            "variant keeps selling when out of stock (inventory policy CONTINUE): Stockwire writes its level, but Shopify sells beyond it; set \"Continue selling when out of stock\" off to protect it",
            metadata: ["sku": "\(sku)"])
        Counter(
            label: "stockwire_exporter_unprotectable_items_total",
            dimensions: [("shop", shop.domain.description), ("reason", "continue_selling")]
        )
        .increment()
    }
}
