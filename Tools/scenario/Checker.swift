import Foundation
import Postgres
import ScenarioReports
import ShopifySimulator

/// The fault suite's checker, after RabbitMQ's Jepsen queue checker: from the simulator's logs (every webhook sent
/// and its answer, every Admin API write, every level change), the movements and messages the run sent, the truth
/// in PostgreSQL and the broker's own record (event log, queues, dead letters), it computes what a merchant relies
/// on — nothing lost, nothing applied twice, nothing from nowhere, no shop moved back to an older version, every
/// message accounted for — and how long the shops took to equal the truth again once the fault healed.
///
/// The arithmetic is ``HistoryChecker`` (pure, unit-tested); this type gathers its inputs once the run is quiet.
struct Checker {
    /// A run passes with these figures at zero, the accounting balanced and convergence within this many seconds.
    static let convergenceLimitSeconds = 30.0

    /// The report and its parts, in ScenarioReports so that the end-to-end tests decode the very types written.
    typealias Report = CheckerReport
    typealias WriteCoverage = CheckerReport.WriteCoverage
    typealias Publications = CheckerReport.Publications
    typealias Accounting = CheckerReport.Accounting

    let stack: Stack
    let context: BlackFriday.LoadContext
    let injection: InjectionLog
    let virtualHost: String
    let admin: BrokerAdmin
    let tap: AvailabilityTap

    // MARK: - Run

    func run(_ result: BlackFriday.Result) async throws -> Report {
        let sim = context.sim
        var failures: [String] = []
        var examples: [String] = []
        func example(_ what: String, _ items: [String]) {
            if !items.isEmpty { examples.append("\(what): " + items.prefix(5).joined(separator: ", ")) }
        }

        // MARK: Sent, accepted, applied
        var sent = Set<String>()
        var accepted = Set<String>()
        var lastAttempt: [String: WebhookDeliveryRecord] = [:]
        for d in sim.webhookDeliveries() where d.outcome != "dropped" {
            let id = "\(d.shop)/\(d.webhookId)"
            sent.insert(id)
            lastAttempt[id] = d
            if let s = d.status, (200..<300).contains(s) { accepted.insert(id) }
        }
        let neverAccepted = lastAttempt.filter { !accepted.contains($0.key) }.sorted { $0.key < $1.key }
        if !neverAccepted.isEmpty { failures.append("\(neverAccepted.count) webhooks never answered 2xx (Shopify gives up)") }
        example(
            "never answered 2xx",
            neverAccepted.map {
                "\($0.key) \($0.value.topic): attempt \($0.value.attempt) \($0.value.outcome), "
                    + "\($0.value.status.map { "HTTP \($0)" } ?? $0.value.error ?? "no answer")"
            })
        let movementsSent = await context.warehouse.attempted
        let movementsAccepted = await context.warehouse.accepted
        sent.formUnion(movementsSent.map { "warehouse/\($0)" })
        accepted.formUnion(movementsAccepted.map { "warehouse/\($0.movementId)" })
        sent.formUnion(await injection.sent)
        let injectedAccepted = await injection.accepted
        accepted.formUnion(injectedAccepted)

        let db = try await PostgresConnection.connect(stack.conninfo)
        defer { Task { await db.close() } }
        let applied = Set(
            try await db.query("SELECT message_id FROM processed_messages", []).map { try $0.decode(String.self, at: 0) })

        // MARK: Broker
        let queues = try await settledQueues()
        func queue(_ name: String) -> BrokerAdmin.QueueFigures? { queues.first { $0.name == name } }
        let calculatorDead = try await admin.peek(
            virtualHost: virtualHost, queue: "dead.calculator.events",
            count: (queue("dead.calculator.events")?.messages ?? 0) + 50)
        let deadIds = Set(calculatorDead.compactMap(\.messageId))
        var exporterDead: [String: [String]] = [:]
        for shop in stack.domains {
            let name = "dead.exporter.\(shop)"
            let peeked = try await admin.peek(virtualHost: virtualHost, queue: name, count: (queue(name)?.messages ?? 0) + 50)
            exporterDead[shop] = peeked.map { $0.messageId ?? "(no id)" }.sorted()
        }
        let logCount = queue("stockwire.events.log")?.messages ?? 0
        let published = Set(
            try await readStream(amqpURL: stack.amqpURL, stream: "stockwire.events.log", expected: logCount)
                .compactMap { $0 })

        // MARK: Lost, unexpected
        let (lost, lostInDead) = HistoryChecker.lost(accepted: accepted, applied: applied, deadLettered: deadIds)
        let unexpected = HistoryChecker.unexpected(applied: applied, sent: sent)
        if !lost.isEmpty { failures.append("lost \(lost.count) acknowledged events (\(lostInDead.count) of them dead-lettered)") }
        if !unexpected.isEmpty { failures.append("\(unexpected.count) events applied that nobody sent") }
        example("lost", lost)
        example("unexpected", unexpected)

        // MARK: Duplicated
        var history: [HistoryChecker.SkuVersion] = []
        for row in try await db.query("SELECT sku, version, causes FROM sku_history", []) {
            history.append(
                HistoryChecker.SkuVersion(
                    sku: try row.decode(String.self, at: 0), version: try row.decode(Int64.self, at: 1),
                    causes: try row.decode(String.self, at: 2).split(separator: " ").map(String.init)))
        }
        let repeated = HistoryChecker.appliedMoreThanOnce(history)
        var duplicateDetails = repeated.map { "\($0.messageId) caused versions \($0.versions) of \($0.sku)" }
        let excess = try await excessUnits(db: db, sim: sim, movements: movementsAccepted)
        duplicateDetails += excess
        if !duplicateDetails.isEmpty { failures.append("\(duplicateDetails.count) events applied more than once") }
        example("duplicated", duplicateDetails)

        // MARK: Rolled back
        let rolledBack = try await rolledBackOrders(db: db, sim: sim)
        if !rolledBack.isEmpty { failures.append("\(rolledBack.count) orders hold an older snapshot than the newest sent") }
        example("rolled back", rolledBack)

        // MARK: Stale writes
        let (writes, coverage) = try await shopWrites(db: db, sim: sim)
        let stale = HistoryChecker.staleWrites(writes)
        if !stale.isEmpty { failures.append("\(stale.count) writes moved a shop to an older version") }
        example(
            "stale writes",
            stale.map { "\($0.write.shop) \($0.write.sku) v\($0.write.version) after v\($0.newerBefore)" })
        if !stale.isEmpty, let path = try? await staleWriteDetails(stale, writes: writes, sim: sim) {
            example("stale writes, each with the writes around it", [path])
        }

        // MARK: Published versions
        let tapped = try await tap.read()
        let order = HistoryChecker.publicationOrder(
            tapped.map { HistoryChecker.Publication(sku: $0.sku, version: $0.version, content: $0.content) })
        if !order.conflicting.isEmpty {
            failures.append("\(order.conflicting.count) availability versions published with different contents")
        }
        example("conflicting versions", order.conflicting.map { "\($0.sku) v\($0.version)" })
        example("out of order (reported)", order.outOfOrder.map { "\($0.sku) v\($0.version)" })

        // MARK: Oversold
        var sold: [String: Int] = [:]
        for shop in stack.domains {
            for order in try await sim.orders(shop: shop) where order.cancelledAt == nil {
                for line in order.lineItems { if let sku = line.sku { sold[sku, default: 0] += line.currentQuantity } }
            }
        }
        var received: [String: Int] = [:]
        for m in Dictionary(movementsAccepted.map { ($0.movementId, $0) }, uniquingKeysWith: { a, _ in a }).values
        where m.kind == "receipt" {
            received[m.sku, default: 0] += m.quantity
        }
        let skuSet = Set(context.skus)
        let oversold = HistoryChecker.oversold(sold: sold.filter { skuSet.contains($0.key) }, received: received)

        // MARK: Accounting
        let account = HistoryChecker.account(
            published: published, applied: applied, deadLettered: deadIds,
            remaining: queue("calculator.events")?.messages ?? 0)
        var exporterRemaining = 0
        for shop in stack.domains { exporterRemaining += queue("exporter.\(shop)")?.messages ?? 0 }
        let expected = await injection.expected
        var deadAsExpected = deadIds == expected.calculator
        if !deadAsExpected {
            failures.append(
                "calculator dead letters \(Array(deadIds.sorted().prefix(5))) ≠ the poison injected \(Array(expected.calculator.sorted().prefix(5)))"
            )
        }
        for shop in stack.domains {
            let have = exporterDead[shop] ?? []
            let wanted = expected.exporter[shop] ?? []
            let prefixes = expected.exporterPrefixes[shop] ?? []
            let unwanted = have.filter { id in !wanted.contains(id) && !prefixes.contains { id.hasPrefix($0) } }
            let missing = wanted.filter { !have.contains($0) }.sorted()
            let missingPrefix = prefixes.filter { p in !have.contains { $0.hasPrefix(p) } }.map { "\($0)…" }
            if !unwanted.isEmpty || !missing.isEmpty || !missingPrefix.isEmpty {
                deadAsExpected = false
                failures.append(
                    "\(shop) dead letters: unexpected \(Array(unwanted.prefix(5))), missing \(Array(missing.prefix(5)) + missingPrefix)"
                )
            }
        }
        if !account.balanced {
            failures.append(
                "accounting: \(account.published) published ≠ \(account.applied) applied + \(account.deadLettered) dead-lettered "
                    + "(\(account.unaccounted.count) unaccounted, \(account.both.count) both, "
                    + "\(account.appliedNotPublished.count) applied but never published, \(account.remaining) still queued)")
            example("unaccounted", account.unaccounted)
        }
        if exporterRemaining > 0 { failures.append("\(exporterRemaining) messages still in the exporters' queues once quiet") }

        // MARK: Convergence
        let converged = result.converged ?? false
        // Timed from the later of the fault healing and Shopify's last retry being delivered: a webhook Shopify
        // still holds cannot be applied before it comes.
        let waited = result.secondsWaitingForShopify ?? 0
        let convergence = max(0, result.secondsToQuiet - waited)
        if !converged {
            failures.append("not converged within the quiet timeout (\(Int(result.settings.quietTimeout)) s)")
        } else if convergence > Self.convergenceLimitSeconds {
            failures.append(
                String(
                    format:
                        "converged %.1f s after the last webhook retry was delivered (%.1f s after the fault healed) > %.0f s",
                    convergence, result.secondsToQuiet, Self.convergenceLimitSeconds))
        }
        if result.consistency.truthMatchesSent == false {
            failures.append("the truth differs from a recomputation from the shops' orders and the movements sent")
        }

        return Report(
            passed: failures.isEmpty, failures: failures, sent: sent.count, accepted: accepted.count,
            applied: applied.count, injectedAccepted: injectedAccepted.count, neverAccepted: neverAccepted.count,
            lost: lost.count, lostInDeadLetters: lostInDead.count,
            duplicated: duplicateDetails.count, unexpected: unexpected.count, rolledBack: rolledBack.count,
            staleWrites: stale.count, writes: coverage,
            publications: Publications(
                messages: tapped.count, republished: order.republished, outOfOrder: order.outOfOrder.count,
                conflicting: order.conflicting.count),
            oversoldUnits: oversold.values.reduce(0, +),
            oversoldSkus: oversold.count, convergenceSeconds: convergence, secondsWaitingForShopify: waited, converged: converged,
            accounting: Accounting(
                published: account.published, applied: account.applied, deadLettered: account.deadLettered,
                unaccounted: account.unaccounted.count, appliedAndDeadLettered: account.both.count,
                appliedNotPublished: account.appliedNotPublished.count, remaining: account.remaining + exporterRemaining,
                balanced: account.balanced && exporterRemaining == 0, queues: queues.sorted { $0.name < $1.name },
                calculatorDeadLetters: deadIds.sorted(), exporterDeadLetters: exporterDead,
                deadLettersAsExpected: deadAsExpected),
            examples: examples)
    }

    // MARK: - Inputs

    /// The run's queues once their message counts stopped moving for longer than the management plugin's refresh
    /// interval (5 s), so that the counts are current.
    private func settledQueues() async throws -> [BrokerAdmin.QueueFigures] {
        var last: [BrokerAdmin.QueueFigures] = []
        var stableSince = ContinuousClock.now
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            let now = try await admin.queues(virtualHost: virtualHost)
            let key = { (q: [BrokerAdmin.QueueFigures]) in q.map { "\($0.name):\($0.messages)" }.sorted() }
            if key(now) != key(last) {
                last = now
                stableSince = .now
            } else if ContinuousClock.now - stableSince >= .seconds(6) || ContinuousClock.now >= deadline {
                return now
            }
            try await Task.sleep(for: .milliseconds(500))
        }
    }

    /// Order lines holding more shipped or refund-cancelled units than were sent for them, and SKUs holding more
    /// received units (on hand plus shipped) than the receipts sent.
    private func excessUnits(db: PostgresConnection, sim: Simulator, movements: [Movement]) async throws -> [String] {
        let unique = Dictionary(movements.map { ($0.movementId, $0) }, uniquingKeysWith: { a, _ in a }).values
        var shippedSent: [String: Int64] = [:]
        var receivedSent: [String: Int64] = [:]
        for m in unique {
            if m.kind == "shipment" {
                shippedSent["\(m.shop ?? "")/\(m.orderId ?? 0)/\(m.lineItemId ?? 0)", default: 0] += Int64(m.quantity)
            }
            if m.kind == "receipt" { receivedSent[m.sku, default: 0] += Int64(m.quantity) }
        }
        var refundedSent: [String: Int64] = [:]
        for shop in stack.domains {
            for order in try await sim.orders(shop: shop) {
                for refund in order.refunds {
                    for line in refund.refundLineItems where line.restockType == "cancel" {
                        refundedSent["\(shop)/\(order.id)/\(line.lineItemId)", default: 0] += Int64(line.quantity)
                    }
                }
            }
        }
        var shippedApplied: [String: Int64] = [:]
        var refundedApplied: [String: Int64] = [:]
        var shippedBySku: [String: Int64] = [:]
        for row in try await db.query("SELECT shop, order_id, line_id, sku, shipped, refund_cancelled FROM order_lines", []) {
            let key =
                "\(try row.decode(String.self, at: 0))/\(try row.decode(Int64.self, at: 1))/\(try row.decode(Int64.self, at: 2))"
            let shipped = try row.decode(Int64.self, at: 4)
            shippedApplied[key] = shipped
            refundedApplied[key] = try row.decode(Int64.self, at: 5)
            if let sku = try row.decode(String?.self, at: 3) { shippedBySku[sku, default: 0] += shipped }
        }
        var receivedApplied: [String: Int64] = [:]
        for row in try await db.query("SELECT sku, on_hand FROM skus WHERE starts_with(sku, $1)", ["BF-\(stack.runId)-"]) {
            let sku = try row.decode(String.self, at: 0)
            receivedApplied[sku] = try row.decode(Int64.self, at: 1) + (shippedBySku[sku] ?? 0)
        }
        var out: [String] = []
        for (key, units) in HistoryChecker.excess(applied: shippedApplied, sent: shippedSent).sorted(by: { $0.key < $1.key }) {
            out.append("order line \(key): \(units) units shipped beyond the shipments sent")
        }
        for (key, units) in HistoryChecker.excess(applied: refundedApplied, sent: refundedSent).sorted(by: { $0.key < $1.key }) {
            out.append("order line \(key): \(units) units released beyond the refunds sent")
        }
        for (sku, units) in HistoryChecker.excess(applied: receivedApplied, sent: receivedSent).sorted(by: { $0.key < $1.key }) {
            out.append("\(sku): \(units) units received beyond the receipts sent")
        }
        return out
    }

    /// Orders whose applied snapshot (`orders.updated_at_ms`) is older than the shop's current `updated_at`.
    private func rolledBackOrders(db: PostgresConnection, sim: Simulator) async throws -> [String] {
        var applied: [String: Int64] = [:]
        for row in try await db.query("SELECT shop, order_id, updated_at_ms FROM orders WHERE updated_at_ms IS NOT NULL", []) {
            applied["\(try row.decode(String.self, at: 0))/\(try row.decode(Int64.self, at: 1))"] = try row.decode(
                Int64.self, at: 2)
        }
        let parser = ISO8601DateFormatter()
        parser.formatOptions = [.withInternetDateTime]
        var newest: [String: Int64] = [:]
        for shop in stack.domains {
            for order in try await sim.orders(shop: shop) {
                guard let date = parser.date(from: order.updatedAt) else { continue }
                newest["\(shop)/\(order.id)"] = Int64((date.timeIntervalSince1970 * 1000).rounded())
            }
        }
        return HistoryChecker.rolledBack(applied: applied, newest: newest).sorted { $0.key < $1.key }.map {
            "\($0.key): applied updated_at \($0.value.applied), newest sent \($0.value.newest)"
        }
    }

    /// Every write whose version is known, each placed in its shop's own order of applied writes
    /// (``WriteLogEntry/appliedOrder``): single-SKU writes from the simulator's write log (their reference names the
    /// version), and the exporters' write reports (`shop_writes`), placed by the idempotency key of the mutation that
    /// wrote them. A report with no applied mutation behind it (the shop held the level already) moved nothing and
    /// is not a write here.
    private func shopWrites(db: PostgresConnection, sim: Simulator) async throws -> ([HistoryChecker.ShopWrite], WriteCoverage) {
        var skuOfItem: [String: [String: String]] = [:]
        for shop in stack.domains {
            for v in try await sim.variants(shop: shop) { skuOfItem[shop, default: [:]][v.inventoryItemGID] = v.sku }
        }
        var writes: [HistoryChecker.ShopWrite] = []
        var applied = 0
        var fromReference = 0
        var appliedByKey: [String: (atMillis: Int64, order: Int?)] = [:]
        for entry in await sim.writeLog() where entry.operation == "inventorySetQuantities" && entry.result == "applied" {
            let skus = Set((entry.quantities ?? []).compactMap { skuOfItem[entry.shop]?[$0.inventoryItemId] })
            applied += skus.count
            guard let date = Timestamp.parsePrecise(entry.time) else { continue }
            let atMillis = Int64((date.timeIntervalSince1970 * 1000).rounded())
            if let key = entry.idempotencyKey { appliedByKey["\(entry.shop)\u{0}\(key)"] = (atMillis, entry.appliedOrder) }
            guard let reference = Self.reference(entry.variables),
                let (sku, version) = HistoryChecker.stockVersion(reference: reference)
            else { continue }
            fromReference += 1
            writes.append(
                HistoryChecker.ShopWrite(
                    shop: entry.shop, sku: sku, version: version, atMillis: atMillis, sequence: entry.appliedOrder))
        }
        var fromReports = 0
        var unplaced = 0
        for row in try await db.query("SELECT shop, sku, version, idempotency_key FROM shop_writes", []) {
            let shop = try row.decode(String.self, at: 0)
            guard let key = try row.decode(String?.self, at: 3), let write = appliedByKey["\(shop)\u{0}\(key)"] else {
                unplaced += 1
                continue
            }
            fromReports += 1
            writes.append(
                HistoryChecker.ShopWrite(
                    shop: shop, sku: try row.decode(String.self, at: 1), version: try row.decode(Int64.self, at: 2),
                    atMillis: write.atMillis, sequence: write.order))
        }
        return (
            writes,
            WriteCoverage(
                applied: applied, versionFromReference: fromReference, versionFromReports: fromReports,
                reportsWithoutWrite: unplaced)
        )
    }

    /// For each stale write (the first 100), every write of that shop and SKU from 3 s before to 1 s after it: when,
    /// which version, and where the version comes from (the simulator's write log with the write's compare-and-set
    /// and idempotency key, or an exporter's report). Written next to the services' logs; returns the path.
    private func staleWriteDetails(
        _ stale: [HistoryChecker.StaleWrite], writes: [HistoryChecker.ShopWrite], sim: Simulator
    ) async throws -> String {
        let log = Dictionary(
            await sim.writeLog().compactMap { e in e.appliedOrder.map { ($0, e) } }, uniquingKeysWith: { a, _ in a })
        func time(_ ms: Int64) -> String { Timestamp.precise(Date(timeIntervalSince1970: Double(ms) / 1000)) }
        var out = ""
        for s in stale.prefix(100) {
            out += "== \(s.write.shop) \(s.write.sku): v\(s.write.version) at \(time(s.write.atMillis)) after v\(s.newerBefore)\n"
            let around = writes.filter {
                $0.shop == s.write.shop && $0.sku == s.write.sku && $0.atMillis >= s.write.atMillis - 3_000
                    && $0.atMillis <= s.write.atMillis + 1_000
            }.sorted { ($0.sequence ?? .max, $0.atMillis) < ($1.sequence ?? .max, $1.atMillis) }
            for w in around {
                var line = "  \(time(w.atMillis))  v\(w.version)"
                if let seq = w.sequence, let e = log[seq] {
                    let q = (e.quantities ?? []).map { "\($0.changeFromQuantity.map(String.init) ?? "null") → \($0.quantity)" }
                    line +=
                        "  write #\(e.sequence) (applied #\(seq)) \(e.result) \(q.joined(separator: ", ")) key \(e.idempotencyKey ?? "-")"
                } else {
                    line += "  reported by the exporter, no applied write found"
                }
                out += line + (w == s.write ? "   ← stale\n" : "\n")
            }
        }
        let url = stack.work.appendingPathComponent("stale-writes.txt")
        try out.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    /// `input.referenceDocumentUri` of logged mutation variables (compact JSON, possibly cut at 2,000 characters).
    static func reference(_ variables: String) -> String? {
        if let object = try? JSONSerialization.jsonObject(with: Data(variables.utf8)) as? [String: Any],
            let input = object["input"] as? [String: Any]
        {
            return input["referenceDocumentUri"] as? String
        }
        // Cut: find the field by text.
        guard let range = variables.range(of: #""referenceDocumentUri":""#) else { return nil }
        let rest = variables[range.upperBound...]
        guard let end = rest.firstIndex(of: "\"") else { return nil }
        return String(rest[..<end])
    }
}
