import AsyncHTTPClient
import Foundation
import NIOCore
import ScenarioReports
import ShopifySimulator
import Toolbox

/// Black Friday: a constant rate of merchant-visible events for a while, over many SKUs with Zipf popularity and
/// several shops — orders created, edited, cancelled and refunded in the shops, goods received and orders shipped
/// in the warehouse — with Shopify's duplicate and reordered webhook deliveries switched on. Ends with the
/// consistency check: every shop equals the truth, and the truth equals a plain recomputation from the
/// simulator's orders and the movements sent.
struct BlackFriday {
    /// The report and its settings, in ScenarioReports so that the end-to-end tests decode the very types written.
    typealias Settings = BlackFridayReport.Settings
    typealias Result = BlackFridayReport

    /// The event mix, in percent of all events.
    static let mix: [(Kind, Double)] = [
        (.checkout, 50), (.edit, 8), (.cancel, 7), (.refund, 7), (.receipt, 10), (.shipment, 18),
    ]

    enum Kind: String, Codable, CaseIterable {
        case checkout, edit, cancel, refund, receipt, shipment
    }

    /// One open, unshipped order line the runner may still act on.
    struct OpenLine: Sendable {
        var shop: String
        var orderId: Int64
        var lineId: Int64
        var sku: String
        var quantity: Int
    }

    /// What the load offers a fault injector (Faults/) and the checker.
    struct LoadContext: Sendable {
        let sim: Simulator
        let skus: [String]
        let warehouse: Warehouse
        /// When the first event was issued.
        let start: Date
    }

    let stack: Stack
    let settings: Settings
    /// A fault run's injector (Faults/FaultRun.swift): runs alongside the load from its first event, and the wait for quiet
    /// starts once both the load and the injector are done (the fault healed), so the time to quiet is the time to
    /// converge after the fault. Nil for a plain black-friday run.
    var injector: (@Sendable (LoadContext) async -> Void)? = nil

    var skuPrefix: String { "BF-\(stack.runId)-" }

    func run(log: (String) -> Void) async throws -> Result {
        guard let sim = stack.simulator else { throw ScenarioError("simulator not started") }
        let skus = (0..<settings.skus).map { "\(skuPrefix)\($0)" }
        let zipf = ZipfDistribution(count: skus.count, exponent: settings.zipfExponent)
        let client = HTTPClient(
            eventLoopGroup: HTTPClient.defaultEventLoopGroup,
            configuration: .init(connectionPool: .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 64))
        )
        defer { Task { try? await client.shutdown() } }
        let warehouse = Warehouse(client: client, url: "\(stack.ingestURL)/stock-movements", token: stack.movementToken)

        // MARK: Catalogue and stock
        log("listing \(skus.count) SKUs in \(stack.domains.count) shops (products/create webhooks)")
        for shop in stack.domains {
            for sku in skus { try await sim.createVariant(shop: shop, sku: sku, available: 0, title: "Deal \(sku)") }
        }
        guard await sim.waitForWebhooks(timeout: .seconds(120)) else {
            throw ScenarioError("the products/create webhooks were not accepted by ingest within 120 s")
        }
        // Enough stock that most checkouts succeed: 1.5× the expected units per SKU, plus a few.
        let expectedUnits = settings.rate * settings.seconds * 0.5 * 1.25
        let seed = zipf.probabilities.map { Int((expectedUnits * $0 * 1.5).rounded(.up)) + 3 }
        log("seeding \(seed.reduce(0, +)) units over \(skus.count) SKUs through warehouse goods receipts")
        let receipts = zip(skus, seed).map { sku, units in
            Movement(id: "seed-\(sku)", sku: sku, kind: "receipt", quantity: units)
        }
        for chunk in stride(from: 0, to: receipts.count, by: 1_000) {
            try await warehouse.send(Array(receipts[chunk..<min(chunk + 1_000, receipts.count)]))
        }
        let seedTarget = Dictionary(uniqueKeysWithValues: zip(skus, seed))
        let seeded = try await pollUntil(seconds: 120, every: .milliseconds(250)) {
            let truths = try await stack.truths(prefix: skuPrefix)
            guard truths.count == skus.count, skus.allSatisfy({ truths[$0]?.available == seedTarget[$0] }) else { return false }
            for shop in stack.domains {
                let levels = try await sim.levels(shop: shop)
                if skus.contains(where: { levels[$0] != seedTarget[$0] }) { return false }
            }
            return true
        }
        guard seeded else {
            throw ScenarioError("the shops did not show the seeded stock within 120 s; see \(stack.work.path)/*.log")
        }

        // MARK: Load
        sim.setWebhookFaults(WebhookFaults(duplicateRate: settings.duplicateRate, reorderWindowMs: settings.reorderWindowMs))
        // The management API's figures lag by up to 5 s: taken at once, the first snapshot missed part of the seeding's
        // traffic, which then counted as the load's (two runs of the same build at 85 events/s read 4.8 and 9.8
        // messages published per webhook). The wait also lets the seeding's read-backs and reports settle.
        try? await Task.sleep(for: .seconds(5.5))
        let exporterBefore = await stack.metrics(stack.exporterOpsURL)
        let calculatorBefore = await stack.metrics(stack.calculatorOpsURL)
        let countsBefore = await PipelineCounts.take(stack, sim: sim)
        let cpuBefore = CPUBudget.Snapshot.take(services: stack.servicePIDs)
        let firstDelivery = sim.webhookDeliveries().last?.sequence ?? 0
        let total = Int(settings.rate * settings.seconds)
        log(
            "load: \(total) events at \(Int(settings.rate))/s for \(settings.seconds) s over \(stack.domains.count) shops, "
                + "webhook duplicates \(Int(settings.duplicateRate * 100)) %, reordering within \(settings.reorderWindowMs) ms")
        let book = OrderBook()
        let tally = Tally()
        var rng = SplitMix64(seed: settings.seed)
        let weights = Self.mix.map(\.1)
        let weightSum = weights.reduce(0, +)
        let start = Date()
        let context = LoadContext(sim: sim, skus: skus, warehouse: warehouse, start: start)
        let injection = injector.map { inject in Task { await inject(context) } }
        var issued = 0
        await withTaskGroup(of: Void.self) { group in
            while issued < total {
                let due = min(total, Int(Date().timeIntervalSince(start) * settings.rate) + 1)
                while issued < due {
                    var pick = rng.unit() * weightSum
                    var kind = Kind.checkout
                    for (k, w) in Self.mix {
                        if pick < w { kind = k; break }
                        pick -= w
                    }
                    let action = Action(
                        kind: kind, shop: stack.domains[rng.below(stack.domains.count)], sku: skus[zipf.sample(&rng)],
                        quantity: 1 + (rng.unit() < 0.2 ? rng.below(3) : 0), pick: rng.next(), index: issued)
                    group.addTask { await perform(action, sim: sim, book: book, warehouse: warehouse, tally: tally) }
                    issued += 1
                }
                try? await Task.sleep(for: .milliseconds(2))
            }
            await group.waitForAll()
        }
        let issuedSeconds = Date().timeIntervalSince(start)
        if let injection {
            log(String(format: "load issued in %.1f s; waiting for the fault injector to finish", issuedSeconds))
            await injection.value
        }
        log(String(format: "load issued in %.1f s; waiting for the system to go quiet", issuedSeconds))

        // MARK: Quiet
        let quietStart = Date()
        _ = await sim.waitForWebhooks(timeout: .seconds(120))
        // Until Shopify's last retry was delivered the system cannot know everything: a fault that kept ingest
        // answering 503 leaves retries scheduled up to a minute after it healed.
        let waitingForShopify = Date().timeIntervalSince(quietStart)
        var lastTruths: [String: Stack.Truth] = [:]
        var stableRounds = 0
        let converged = try await pollUntil(seconds: settings.quietTimeout, every: .milliseconds(250)) {
            let truths = try await stack.truths(prefix: skuPrefix)
            stableRounds = truths == lastTruths ? stableRounds + 1 : 0
            lastTruths = truths
            guard stableRounds >= 3, sim.pendingWebhooks == 0 else { return false }
            for shop in stack.domains {
                let levels = try await sim.levels(shop: shop)
                if skus.contains(where: { (levels[$0] ?? 0) != (truths[$0]?.available ?? 0) }) { return false }
            }
            // Shops equal to the truth are not yet quiet while an exporter still holds deliveries: one whose
            // writer waited out a hung call had its shop in step and 2,000 deliveries in hand, and the checker
            // then counted them as left in the queue (slow-shop at 4 shops × 500 SKUs × 400 events/s).
            return try await stack.exporterQueuesDrained()
        }
        let secondsToQuiet = Date().timeIntervalSince(quietStart)
        let cpu = CPUBudget(from: cpuBefore, to: CPUBudget.Snapshot.take(services: stack.servicePIDs))
        // The management API publishes its figures every 5 s: wait them out once.
        try? await Task.sleep(for: .seconds(5.5))
        let counts = await PipelineCounts.take(stack, sim: sim) - countsBefore
        let exporterAfter = await stack.metrics(stack.exporterOpsURL)
        let calculatorAfter = await stack.metrics(stack.calculatorOpsURL)
        let resources = stack.resources().mapValues { ProductDrop.Resource(cpuSeconds: $0.cpuSeconds, peakMiB: $0.peakMiB) }

        // MARK: Throughput
        let deliveries = sim.webhookDeliveries(since: firstDelivery)
        let accepted = deliveries.filter { ($0.status ?? 0) >= 200 && ($0.status ?? 0) < 300 }
        let acceptedTimes = accepted.compactMap { Timestamp.parsePrecise($0.time) }
        let lastAccepted = acceptedTimes.max() ?? start
        let acceptSeconds = max(lastAccepted.timeIntervalSince(start), 0.001)
        var perSecond = [Int](repeating: 0, count: max(1, Int(settings.seconds)))
        for t in acceptedTimes {
            let s = Int(t.timeIntervalSince(start))
            if s >= 0, s < perSecond.count { perSecond[s] += 1 }
        }
        let sortedPerSecond = perSecond.sorted()

        // MARK: Consistency
        var details: [String] = []
        if !converged { details.append("not quiet and converged within \(Int(settings.quietTimeout)) s after the load") }
        let truths = try await stack.truths(prefix: skuPrefix)
        let sent = await warehouse.accepted
        var received: [String: Int] = [:]
        var shippedBySku: [String: Int] = [:]
        var shippedByLine: [String: Int] = [:]
        for m in sent {
            if m.kind == "receipt" { received[m.sku, default: 0] += m.quantity }
            if m.kind == "shipment" {
                shippedBySku[m.sku, default: 0] += m.quantity
                shippedByLine["\(m.shop ?? "")/\(m.orderId ?? 0)/\(m.lineItemId ?? 0)", default: 0] += m.quantity
            }
        }
        var openBySku: [String: Int] = [:]
        for shop in stack.domains {
            for order in try await sim.orders(shop: shop) where order.cancelledAt == nil {
                for line in order.lineItems {
                    guard let sku = line.sku else { continue }
                    openBySku[sku, default: 0] += line.currentQuantity - (shippedByLine["\(shop)/\(order.id)/\(line.id)"] ?? 0)
                }
            }
        }
        var mismatches: [String] = []
        var shopMismatches: [String] = []
        for sku in skus {
            let truth = truths[sku] ?? Stack.Truth(onHand: 0, reserved: 0, available: 0)
            let onHand = (received[sku] ?? 0) - (shippedBySku[sku] ?? 0)
            if truth.onHand != onHand {
                mismatches.append("\(sku): on_hand \(truth.onHand) ≠ \(onHand) (receipts − shipments sent)")
            }
            if truth.reserved != openBySku[sku] ?? 0 {
                mismatches.append("\(sku): reserved \(truth.reserved) ≠ \(openBySku[sku] ?? 0) open units in the shops' orders")
            }
        }
        for shop in stack.domains {
            let levels = try await sim.levels(shop: shop)
            let orders = try await sim.orders(shop: shop)
            for sku in skus where (levels[sku] ?? 0) != (truths[sku]?.available ?? 0) {
                // What this shop did with the SKU, to tell a held-back sale from a lost event.
                let mine = orders.filter { $0.lineItems.contains { $0.sku == sku } }
                let lines = mine.flatMap { o in o.lineItems.filter { $0.sku == sku }.map { (o, $0) } }
                let history =
                    "its orders of it: \(mine.count) placed, \(mine.filter { $0.cancelledAt != nil }.count) cancelled, "
                    + "\(lines.filter { $0.0.refunds.isEmpty && $0.1.currentQuantity < $0.1.quantity && $0.0.cancelledAt == nil }.count) edited down, "
                    + "\(mine.filter { !$0.refunds.isEmpty }.count) refunded, "
                    + "\(lines.filter { shippedByLine["\(shop)/\($0.0.id)/\($0.1.id)"] != nil }.count) shipped"
                shopMismatches.append(
                    "\(shop) shows \(levels[sku] ?? 0) for \(sku), truth is \(truths[sku]?.available ?? 0) (\(history))")
            }
        }
        if !shopMismatches.isEmpty {
            let file = stack.work.appendingPathComponent("diagnosis.txt")
            let text = try await diagnosis(sim: sim, truths: truths)
            try? text.write(to: file, atomically: true, encoding: .utf8)
            details.append("timelines of the SKUs that differ: \(file.path)")
        }
        let truthMatchesSent = mismatches.isEmpty
        let shopsMatchTruth = shopMismatches.isEmpty
        mismatches += shopMismatches
        details += mismatches.prefix(20)
        if mismatches.count > 20 { details.append("… \(mismatches.count - 20) more") }

        let counters = [
            "applied": "stockwire_calculator_events_applied_total", "duplicate": "stockwire_calculator_events_duplicate_total",
            "stale": "stockwire_calculator_events_stale_total", "ignored": "stockwire_calculator_events_ignored_total",
        ].mapValues { Self.counter(calculatorAfter, $0) - Self.counter(calculatorBefore, $0) }
        let metric = "stockwire_exporter_end_to_end_seconds"
        let (shopMetric, writes) = ("stockwire_exporter_admin_api_seconds", #"operation="set_quantities""#)
        return Result(
            settings: settings, shops: stack.domains, done: await tally.done, refused: await tally.refused,
            issuedPerSecond: Double(total) / issuedSeconds, webhooksAccepted: accepted.count,
            webhookAttemptsFailed: deliveries.count - accepted.count, duplicatesInjected: deliveries.filter(\.duplicate).count,
            acceptSeconds: acceptSeconds, webhooksPerSecond: Double(accepted.count) / acceptSeconds,
            webhooksPerSecondMedian: Double(sortedPerSecond[sortedPerSecond.count / 2]),
            webhooksPerSecondLowest: Double(sortedPerSecond.first ?? 0), movementsAccepted: sent.count,
            eventsApplied: try await stack.processedMessageCount(), calculatorCounters: counters,
            endToEnd: LatencyHistogram.parse(exporterAfter, metric: metric)?
                .subtracting(LatencyHistogram.parse(exporterBefore, metric: metric)),
            shopWriteAnswers: LatencyHistogram.parse(exporterAfter, metric: shopMetric, label: writes)?
                .subtracting(LatencyHistogram.parse(exporterBefore, metric: shopMetric, label: writes)),
            cpu: cpu, counts: counts, secondsToQuiet: secondsToQuiet, secondsWaitingForShopify: waitingForShopify,
            converged: converged,
            consistency: ProductDrop.Consistency(
                passed: details.isEmpty, details: details, truthMatchesSent: truthMatchesSent, shopsMatchTruth: shopsMatchTruth),
            resources: resources, rawLimit: nil, loadAverage: Self.loadAverage())
    }

    /// For every shop × SKU that differs from the truth: what happened to that item in the shop, in time order
    /// (every level change with its cause, and every Admin write that did not apply, with its result), and the
    /// calculator's lineage of the SKU (`/explain`). What an engineer needs to tell a lost event from a bad write.
    private func diagnosis(sim: Simulator, truths: [String: Stack.Truth]) async throws -> String {
        var out = ""
        for shop in stack.domains {
            let levels = try await sim.levels(shop: shop)
            let variants = try await sim.variants(shop: shop)
            let history = try await sim.levelHistory(shop: shop)
            let writes = await sim.writeLog(shop: shop)
            for (sku, level) in levels.sorted(by: { $0.key < $1.key }) where level != (truths[sku]?.available ?? 0) {
                out += "== \(shop) \(sku): shop shows \(level), truth \(truths[sku]?.available ?? 0)\n"
                var events: [(String, String)] = []
                let items = Set(variants.filter { $0.sku == sku }.map(\.inventoryItemId))
                for change in history where items.contains(change.inventoryItemId) {
                    events.append((change.time, "\(change.before) → \(change.after)  \(change.cause)"))
                }
                let gids = Set(items.map { "gid://shopify/InventoryItem/\($0)" })
                for w in writes where w.result != "applied" {
                    for q in w.quantities ?? [] where gids.contains(q.inventoryItemId) {
                        events.append(
                            (
                                w.time,
                                "write #\(w.sequence) \(w.result): \(q.changeFromQuantity.map(String.init) ?? "null") → \(q.quantity)"
                            ))
                    }
                }
                for (time, what) in events.sorted(by: { $0.0 < $1.0 }) { out += "  \(time)  \(what)\n" }
                if let (_, body) = try? await HTTP.get("\(stack.calculatorOpsURL)/explain/\(sku)") {
                    out += "  explain: \(body)\n"
                }
            }
        }
        return out
    }

    // MARK: - Events

    struct Action: Sendable {
        var kind: Kind
        var shop: String
        var sku: String
        var quantity: Int
        /// A random number for choosing among open orders.
        var pick: UInt64
        var index: Int
    }

    private func perform(_ a: Action, sim: Simulator, book: OrderBook, warehouse: Warehouse, tally: Tally) async {
        let ok: Bool
        switch a.kind {
        case .checkout:
            ok = await checkout(a, sim: sim, book: book)
        case .receipt:
            let units = 1 + Int(a.pick % 10)
            ok =
                (try? await warehouse.send([
                    Movement(id: "r-\(stack.runId)-\(a.index)", sku: a.sku, kind: "receipt", quantity: units)
                ])) != nil
        case .edit, .cancel, .refund, .shipment:
            guard let line = await book.take(pick: a.pick) else {
                // Nothing open yet: a checkout keeps the rate.
                await tally.count(.checkout, ok: await checkout(a, sim: sim, book: book))
                return
            }
            ok = await act(a.kind, on: line, index: a.index, sim: sim, book: book, warehouse: warehouse)
        }
        await tally.count(a.kind, ok: ok)
    }

    private func checkout(_ a: Action, sim: Simulator, book: OrderBook) async -> Bool {
        guard let order = try? await sim.checkout(shop: a.shop, sku: a.sku, quantity: a.quantity, buyer: "bf-\(a.index)"),
            let line = order.lineItems.first
        else { return false }
        await book.add(OpenLine(shop: a.shop, orderId: order.id, lineId: line.id, sku: a.sku, quantity: line.currentQuantity))
        return true
    }

    private func act(_ kind: Kind, on line: OpenLine, index: Int, sim: Simulator, book: OrderBook, warehouse: Warehouse) async
        -> Bool
    {
        var line = line
        do {
            switch kind {
            case .edit:
                // The customer asks for one unit less.
                line.quantity -= 1
                try await sim.editOrder(
                    shop: line.shop, orderID: line.orderId, lineItemID: line.lineId, currentQuantity: line.quantity)
            case .cancel:
                try await sim.cancelOrder(shop: line.shop, orderID: line.orderId)
                return true
            case .refund:
                line.quantity -= 1
                try await sim.refund(
                    shop: line.shop, orderID: line.orderId, lineItemID: line.lineId, quantity: 1, restockType: .cancel)
            case .shipment:
                // The warehouse ships the whole line, then the shop marks the order fulfilled.
                try await warehouse.send([
                    Movement(
                        id: "s-\(stack.runId)-\(index)", sku: line.sku, kind: "shipment", quantity: line.quantity,
                        shop: line.shop,
                        orderId: line.orderId, lineItemId: line.lineId)
                ])
                _ = try? await sim.fulfill(shop: line.shop, orderID: line.orderId)
                return true
            case .checkout, .receipt:
                return false
            }
        } catch {
            return false
        }
        if line.quantity > 0 { await book.add(line) }
        return true
    }

    // MARK: - Helpers

    static func counter(_ page: String, _ name: String) -> Double {
        page.split(separator: "\n").filter { $0.hasPrefix(name + " ") || $0.hasPrefix(name + "{") }
            .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0, +)
    }

    /// The machine's load average now, for the report ("" when unreadable).
    static func loadAverage() -> String { Machine.loadAverage ?? "" }

}

/// Open order lines the runner may still edit, cancel, refund or ship; a line taken is out of the book until its
/// action is done, so two actions never race on one order.
///
/// A line rests ``restMs`` after each action before it can be taken again: people do not edit an order within
/// the millisecond it was placed, and Shopify orders two snapshots of one order by `updated_at` (seconds) and
/// `X-Shopify-Triggered-At` (milliseconds) only — two actions in the same millisecond would be indistinguishable.
actor OrderBook {
    static let restMs = 20.0
    private var lines: [(line: BlackFriday.OpenLine, ready: Date)] = []

    func add(_ line: BlackFriday.OpenLine) { lines.append((line, Date().addingTimeInterval(Self.restMs / 1000))) }

    func take(pick: UInt64) -> BlackFriday.OpenLine? {
        guard !lines.isEmpty else { return nil }
        let now = Date()
        let first = Int(pick % UInt64(lines.count))
        for step in 0..<min(lines.count, 16) {
            let i = (first + step) % lines.count
            guard lines[i].ready <= now else { continue }
            lines.swapAt(i, lines.count - 1)
            return lines.removeLast().line
        }
        return nil
    }
}

/// Events done and refused, by kind.
actor Tally {
    private(set) var done: [String: Int] = [:]
    private(set) var refused: [String: Int] = [:]

    func count(_ kind: BlackFriday.Kind, ok: Bool) {
        if ok { done[kind.rawValue, default: 0] += 1 } else { refused[kind.rawValue, default: 0] += 1 }
    }
}

/// A warehouse stock movement as the runner posts it to ingest.
struct Movement: Codable, Sendable {
    var movementId: String
    var sku: String
    var kind: String
    var quantity: Int
    var shop: String?
    var orderId: Int64?
    var lineItemId: Int64?

    init(
        id: String, sku: String, kind: String, quantity: Int, shop: String? = nil, orderId: Int64? = nil, lineItemId: Int64? = nil
    ) {
        self.movementId = id
        self.sku = sku
        self.kind = kind
        self.quantity = quantity
        self.shop = shop
        self.orderId = orderId
        self.lineItemId = lineItemId
    }

    enum CodingKeys: String, CodingKey {
        case movementId = "movement_id", sku, kind, quantity, shop
        case orderId = "order_id", lineItemId = "line_item_id"
    }
}

/// Posts movements to ingest with the bearer token, retrying (same movement ids, so ingest's consumers dedupe)
/// until ingest answers 2xx; remembers what was accepted for the consistency check.
actor Warehouse {
    let client: HTTPClient
    let url: String
    let token: String
    private(set) var accepted: [Movement] = []
    /// Ids of every movement sent, accepted or not (the checker's "sent").
    private(set) var attempted: Set<String> = []

    init(client: HTTPClient, url: String, token: String) {
        self.client = client
        self.url = url
        self.token = token
    }

    func send(_ movements: [Movement]) async throws {
        let encoder = JSONEncoder()
        let body = try movements.count == 1 ? encoder.encode(movements[0]) : encoder.encode(movements)
        attempted.formUnion(movements.map(\.movementId))
        var lastError = ""
        // A warehouse system retries for a while: two minutes covers a broker restart or a 60 s memory alarm.
        for attempt in 0..<240 {
            if attempt > 0 { try await Task.sleep(for: .milliseconds(500)) }
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            request.body = .bytes(ByteBuffer(bytes: body))
            do {
                let response = try await client.execute(request, timeout: .seconds(10))
                let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
                if (200..<300).contains(Int(response.status.code)) {
                    accepted += movements
                    return
                }
                lastError = "HTTP \(response.status.code) \(text)"
                // A 4xx other than 429 will not get better by retrying.
                if (400..<500).contains(Int(response.status.code)), response.status.code != 429 { break }
            } catch {
                lastError = "\(error)"
            }
        }
        throw ScenarioError("ingest did not accept movement \(movements[0].movementId): \(lastError)")
    }
}
