import AMQP
import Contracts
import Foundation

/// One reconciliation round (issue #17): what the calculator's hourly round costs each shop, and how long an
/// injected drift takes to be repaired.
extension BenchScenario {
    /// What one round cost.
    struct ReconcileResult: Sendable {
        var planName: String
        var skus: Int
        var shops: Int
        var drifted: Int
        /// Per shop: Admin API calls (reads, writes) and the points they asked for.
        var reads: Int
        var writes: Int
        var points: Double
        /// The exporter's CPU for the whole round, all shops.
        var exporterCPUSeconds: Double
        /// From the round's first message to every drifted level repaired in every shop.
        var repairSeconds: Double
        /// From the round's first message to every shop's queue empty and its write log quiet.
        var roundSeconds: Double
        var warmUpSeconds: Double
    }

    /// Warms every SKU up, waits until the exporter's read-backs are done, sets `drift` levels per shop by hand
    /// (the ledger still believes the value written), publishes every SKU at the version written, flagged as a
    /// reconciliation round, and measures until every shop is quiet again.
    func runReconcile(drift: Int, log: @Sendable (String) -> Void) async throws -> ReconcileResult {
        let rig = try await BenchRig.start(self)
        do {
            let warmUpSeconds = try await rig.warmUp(log: log)
            try await rig.waitUntilQuiet(seconds: 3)  // the read-backs of the warm-up's writes

            let drifted = Array(rig.skuNames.prefix(drift))
            for domain in rig.domains {
                for sku in drifted { try await rig.simulator.setAvailable(shop: domain, sku: sku, available: 7) }
            }
            log("\(planName): \(drift) SKU(s) per shop set by hand; one reconciliation round of \(skus) SKUs")
            let cursors = await rig.cursors()
            let cpu0 = try rig.exporter.cpuSeconds()
            let t0 = ContinuousClock.now
            try await rig.publisher.publishRound(
                1, headers: [StockwireTopology.resyncHeader: .string(StockwireTopology.resyncReconcile)])
            for domain in rig.domains {
                try await rig.waitFor(seconds: 3_600, "shop \(domain) to be repaired") {
                    let levels = try await rig.simulator.levels(shop: domain)
                    return drifted.allSatisfy { levels[$0] == 1 }
                }
            }
            let repairSeconds = (ContinuousClock.now - t0).inSeconds
            try await rig.waitFor(seconds: 3_600, "the round to be taken") { try await rig.backlog() == 0 }
            try await rig.waitUntilQuiet(seconds: 3)
            let roundSeconds = (ContinuousClock.now - t0).inSeconds - 3
            let cpu1 = try rig.exporter.cpuSeconds()
            var reads = 0
            var writes = 0
            var points = 0.0
            for domain in rig.domains {
                let entries = await rig.simulator.writeLog(shop: domain, since: cursors[domain] ?? 0)
                reads += entries.filter { $0.operation == "nodes" }.count
                writes += entries.filter { $0.operation == "inventorySetQuantities" && $0.result == "applied" }.count
                points += entries.filter { $0.result != "throttled" }.reduce(0) { $0 + $1.requestedCost }
            }
            await rig.teardown()
            let n = Double(shops)
            return ReconcileResult(
                planName: planName, skus: skus, shops: shops, drifted: drift, reads: Int(Double(reads) / n),
                writes: Int(Double(writes) / n), points: points / n, exporterCPUSeconds: cpu1 - cpu0,
                repairSeconds: repairSeconds, roundSeconds: roundSeconds, warmUpSeconds: warmUpSeconds)
        } catch {
            await rig.teardown(keepLog: true)
            throw error
        }
    }
}

extension BenchRig {
    /// Waits until no shop's write log grew for `seconds` (the exporter's read-backs come 2 s after its writes).
    func waitUntilQuiet(seconds: Int) async throws {
        var last = await cursors()
        var quietSince = ContinuousClock.now
        try await waitFor(seconds: 3_600, "the shops to be quiet") {
            let now = await cursors()
            if now != last {
                last = now
                quietSince = .now
            }
            return ContinuousClock.now - quietSince >= .seconds(seconds)
        }
    }
}
