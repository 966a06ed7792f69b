import Foundation
import Postgres
import ScenarioReports
import ShopifySimulator

/// The product drop: S units of one SKU, B buyers spread over the shops at a steady rate. A shop accepts an
/// order only while its own available quantity covers it (as Shopify does), so every unit sold beyond S is a
/// unit the sync let two shops sell.
struct ProductDrop {
    /// The report and its parts, in ScenarioReports so that the end-to-end tests decode the very types written.
    typealias Settings = ProductDropReport.Settings
    typealias Result = ProductDropReport
    typealias Sample = ProductDropReport.Sample
    typealias Resource = ProductDropReport.Resource
    typealias Consistency = ProductDropReport.Consistency

    struct Sale {
        let shop: String
        let at: Date
    }

    let stack: Stack
    let settings: Settings

    func run(log: (String) -> Void) async throws -> Result {
        guard let sim = stack.simulator else { throw ScenarioError("simulator not started") }
        let sku = "DROP-\(stack.runId)"
        for shop in stack.domains { _ = try await sim.createVariant(shop: shop, sku: sku, available: 0, title: "Sneaker drop") }
        // The shops announce the new product (products/create): that registers the SKU before the goods arrive.
        guard await sim.waitForWebhooks(timeout: .seconds(30)) else {
            throw ScenarioError("the products/create webhooks were not accepted by ingest within 30 s")
        }

        // Under the guard every availability version is kept (in the run's own virtual host, deleted with it), for
        // the diagnosis of an oversold drop.
        let tap = settings.guardThreshold == nil ? nil : AvailabilityTap(amqpURL: stack.amqpURL)
        try await tap?.declare()
        log("seeding \(settings.units) units of \(sku) through a warehouse goods receipt")
        let receipt = #"{"movement_id":"receipt-\#(stack.runId)","sku":"\#(sku)","kind":"receipt","quantity":\#(settings.units)}"#
        let (status, body) = try await HTTP.post(
            "\(stack.ingestURL)/stock-movements", json: Array(receipt.utf8), bearer: stack.movementToken)
        guard (200..<300).contains(status) else { throw ScenarioError("the goods receipt was refused: HTTP \(status) \(body)") }
        let interval = settings.intervalSeconds.map { IntervalExport(stack: stack, skus: [sku], intervalSeconds: $0) }
        var intervalTask: Task<Int, Never>?
        if let interval {
            // The interval app's first run after the receipt: it copies the truth into every shop.
            guard
                try await pollUntil(
                    seconds: 60, every: .milliseconds(50), { try await stack.truth(sku: sku).onHand == settings.units })
            else {
                throw ScenarioError("the calculator did not apply the goods receipt within 60 s; see \(stack.work.path)/*.log")
            }
            try await interval.syncOnce()
        }
        let guarded = settings.guardThreshold.map { settings.units <= $0 } ?? false
        let seeded = try await pollUntil(seconds: 60, every: .milliseconds(50)) {
            let levels = try await levels(sim, sku)
            // Guarded from the start: the shops share the units instead of each showing all of them.
            if guarded { return levels.values.reduce(0, +) == settings.units && levels.values.allSatisfy { $0 > 0 } }
            return levels.values.allSatisfy { $0 == settings.units }
        }
        guard seeded else {
            throw ScenarioError("the shops did not show the seeded stock within 60 s; see \(stack.work.path)/*.log")
        }

        log(
            "drop: \(settings.buyers) buyers over \(stack.domains.count) shops in \(settings.seconds) s"
                + (settings.intervalSeconds.map { ", interval export every \($0) s (stands for 15 min)" } ?? ""))
        let metricsBefore = stack.options.startExporter ? await stack.metrics(stack.exporterOpsURL) : ""
        if let interval { intervalTask = Task { await interval.run() } }
        let start = Date()
        let sales = SalesLog()
        let sampler = Task { () -> [Sample] in
            var samples: [Sample] = []
            while !Task.isCancelled {
                let l = (try? await levels(sim, sku)) ?? [:]
                samples.append(Sample(t: Date().timeIntervalSince(start), levels: l, sold: await sales.count))
                try? await Task.sleep(for: .milliseconds(25))
            }
            return samples
        }
        var rng = SplitMix64(seed: settings.seed)
        let spacing = settings.seconds / Double(max(settings.buyers, 1))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<settings.buyers {
                let due = start.addingTimeInterval(Double(i) * spacing)
                let wait = due.timeIntervalSinceNow
                if wait > 0.001 { try await Task.sleep(for: .milliseconds(Int(wait * 1000))) }
                let shop = stack.domains[Int(rng.next() % UInt64(stack.domains.count))]
                group.addTask {
                    do {
                        _ = try await sim.checkout(shop: shop, sku: sku, quantity: 1, buyer: "buyer-\(i)")
                        await sales.record(Sale(shop: shop, at: Date()))
                    } catch {
                        await sales.refuse(shop: shop, at: Date())
                    }
                }
            }
            try await group.waitForAll()
        }
        log("drop over; waiting for the system to go quiet")
        _ = await sim.waitForWebhooks(timeout: .seconds(30))
        let truthSettled = try await pollUntil(seconds: 30, every: .milliseconds(50)) {
            let truth = try await stack.truth(sku: sku)
            let l = try await levels(sim, sku)
            // Every sale applied (each is one open unit), and every shop shows the truth (under the guard: the
            // shares add up to the truth).
            return truth.reserved == (await sales.count)
                && Self.shopsAgree(l, truth.available, guarded: settings.guardThreshold != nil)
        }
        sampler.cancel()
        let timeline = await sampler.value
        intervalTask?.cancel()
        let intervalSyncs = await intervalTask?.value
        let metricsAfter = stack.options.startExporter ? await stack.metrics(stack.exporterOpsURL) : ""
        let metric = "stockwire_exporter_end_to_end_seconds"
        let endToEnd = LatencyHistogram.parse(metricsAfter, metric: metric)?
            .subtracting(LatencyHistogram.parse(metricsBefore, metric: metric))

        let all = await sales.sales
        let refusedAt = await sales.firstRefusal
        var soldPerShop: [String: Int] = Dictionary(uniqueKeysWithValues: stack.domains.map { ($0, 0) })
        for s in all { soldPerShop[s.shop, default: 0] += 1 }
        let sold = all.count
        let lastSale = all.map(\.at).max()
        let resources = stack.resources().mapValues { Resource(cpuSeconds: $0.cpuSeconds, peakMiB: $0.peakMiB) }

        // Consistency: every shop equals the truth, and the truth equals a recomputation from what was sent.
        var details: [String] = []
        let truth = try await stack.truth(sku: sku)
        let orders = try await stack.domains.asyncMap { try await sim.orders(shop: $0) }.flatMap { $0 }
        let openUnits = orders.filter { $0.cancelledAt == nil }.flatMap(\.lineItems).filter { $0.sku == sku }
            .reduce(0) { $0 + $1.currentQuantity }
        if truth.onHand != settings.units { details.append("on_hand \(truth.onHand) ≠ \(settings.units) received") }
        if truth.reserved != openUnits {
            details.append("reserved \(truth.reserved) ≠ \(openUnits) open units in the shops' orders")
        }
        let truthMatchesSent = details.isEmpty
        let final = try await levels(sim, sku)
        if settings.guardThreshold != nil {
            if !Self.shopsAgree(final, truth.available, guarded: true) {
                details.append("the shops show \(final.values.reduce(0, +)) in all (\(final)), the truth is \(truth.available)")
            }
        } else {
            for (shop, level) in final.sorted(by: { $0.key < $1.key }) where level != truth.available {
                details.append("\(shop) shows \(level), truth is \(truth.available)")
            }
        }
        if !truthSettled { details.append("shops did not converge within 30 s of the drop") }
        let visibility = try await visibility(sim: sim, sales: all.sorted { $0.at < $1.at })
        if let tap {
            let tapped = (try? await tap.read()) ?? []
            if sold > settings.units {
                let path = try await guardDiagnosis(sim: sim, sku: sku, tapped: tapped)
                details.append("the guard let the shops sell \(sold) of \(settings.units) units; timeline: \(path)")
            }
        }

        return Result(
            settings: settings, shops: stack.domains, soldPerShop: soldPerShop, sold: sold,
            oversold: max(0, sold - settings.units), stranded: await sales.refusedCount > 0 ? max(0, settings.units - sold) : 0,
            refused: await sales.refusedCount, mode: settings.mode,
            intervalSyncs: intervalSyncs.map { $0 + 1 },
            secondsToSellOut: sold >= settings.units ? lastSale.map { $0.timeIntervalSince(start) } : nil,
            shopShowedZeroAfterSeconds: refusedAt.mapValues { $0.timeIntervalSince(start) },
            saleVisibleElsewhereMs: Percentiles(visibility),
            saleVisibleElsewhereHistogram: LatencyHistogram(samplesMs: visibility, boundsMs: LatencyHistogram.defaultBoundsMs),
            endToEnd: endToEnd,
            consistency: Consistency(
                passed: details.isEmpty, details: details, truthMatchesSent: truthMatchesSent,
                shopsMatchTruth: Self.shopsAgree(final, truth.available, guarded: settings.guardThreshold != nil) && truthSettled),
            adminCalls: try await adminCalls(sim), resources: resources, timeline: timeline)
    }

    /// Once quiet, the shops show the truth: each the same available quantity (mirror), or, under the guard, shares
    /// that add up to it exactly (at most would do for safety; exactly means no unit is stranded).
    static func shopsAgree(_ levels: [String: Int], _ available: Int, guarded: Bool) -> Bool {
        guarded ? levels.values.reduce(0, +) == available : levels.values.allSatisfy { $0 == available }
    }

    /// For each sale, how long until every other shop had been written a level that accounts for it.
    private func visibility(sim: Simulator, sales: [Sale]) async throws -> [Double] {
        let parser = ISO8601DateFormatter()
        parser.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var writes: [String: [(Date, Int)]] = [:]
        for shop in stack.domains {
            writes[shop] = await sim.writeLog(shop: shop).filter {
                $0.operation == "inventorySetQuantities" && $0.result == "applied"
            }
            .compactMap { e in
                guard let t = parser.date(from: e.time), let q = e.quantities?.first?.quantity else { return nil }
                return (t, q)
            }
        }
        var samples: [Double] = []
        for (k, sale) in sales.enumerated() where k < settings.units {
            let remaining = settings.units - (k + 1)
            for shop in stack.domains where shop != sale.shop {
                if let w = writes[shop]?.first(where: { $0.0 >= sale.at && $0.1 <= remaining }) {
                    samples.append(w.0.timeIntervalSince(sale.at) * 1000)
                }
            }
        }
        return samples
    }

    private func adminCalls(_ sim: Simulator) async throws -> [String: [String: Int]] {
        var out: [String: [String: Int]] = [:]
        for shop in stack.domains {
            for e in await sim.writeLog(shop: shop) { out[shop, default: [:]]["\(e.operation) \(e.result)", default: 0] += 1 }
        }
        return out
    }

    private func levels(_ sim: Simulator, _ sku: String) async throws -> [String: Int] {
        var out: [String: Int] = [:]
        for shop in stack.domains { out[shop] = try await sim.levels(shop: shop)[sku] ?? 0 }
        return out
    }

}

/// Sales as they happen, from many buyer tasks.
actor SalesLog {
    private(set) var sales: [ProductDrop.Sale] = []
    private(set) var refusedCount = 0
    private(set) var firstRefusal: [String: Date] = [:]
    var count: Int { sales.count }

    func record(_ sale: ProductDrop.Sale) { sales.append(sale) }

    func refuse(shop: String, at: Date) {
        refusedCount += 1
        if firstRefusal[shop] == nil { firstRefusal[shop] = at }
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for e in self { out.append(try await transform(e)) }
        return out
    }
}

extension ProductDropReport.Settings {
    /// The calculator's settings for this mode.
    func calculatorEnvironment(shops: [String]) -> [String: String] {
        guard let guardThreshold else { return [:] }
        return [
            "STOCKWIRE_CALCULATOR_GUARD_THRESHOLD": "\(guardThreshold)",
            "STOCKWIRE_CALCULATOR_GUARD_SHOPS": shops.joined(separator: ","),
            "STOCKWIRE_CALCULATOR_GUARD_REBALANCE_S": "\(guardRebalanceSeconds ?? 2)",
            "STOCKWIRE_CALCULATOR_GUARD_DEMAND_HALF_LIFE_S": "5",
            "STOCKWIRE_CALCULATOR_GUARD_REVIEW_MS": "200",
        ]
    }
}
