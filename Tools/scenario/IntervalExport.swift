import Foundation
import ShopifySimulator

/// The interval baseline's exporter: instead of Stockwire's event-driven exporter, the runner itself overwrites
/// every shop's available quantity with the truth at a fixed interval, as interval-sync apps do (a blind
/// overwrite, no compare-and-set). Time is scaled: `intervalSeconds` of real time stand for `simulatedMinutes`.
struct IntervalExport {
    let stack: Stack
    let skus: [String]
    let intervalSeconds: Double

    /// Writes the truth into every shop now; returns the quantities written.
    @discardableResult
    func syncOnce() async throws -> Int {
        guard let sim = stack.simulator else { return 0 }
        var written = 0
        for sku in skus {
            let truth = try await stack.truth(sku: sku)
            for shop in stack.domains {
                try await sim.setAvailable(shop: shop, sku: sku, available: truth.available)
                written += 1
            }
        }
        return written
    }

    /// Syncs every `intervalSeconds` until cancelled; returns how many syncs ran.
    func run() async -> Int {
        var syncs = 0
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: .milliseconds(Int(intervalSeconds * 1000)))
            } catch {
                break
            }
            if (try? await syncOnce()) != nil { syncs += 1 }
        }
        return syncs
    }
}
