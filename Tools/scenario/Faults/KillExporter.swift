import Foundation
import ShopifySimulator

/// The `kill-exporter` fault.
struct KillExporter: FaultDefinition {
    let summary = """
        SIGKILL the exporter with a write in flight at Shopify, and while it coalesces a throttled backlog.
        """

    /// SIGKILL with a write in flight at Shopify (each shop answers 30 ms late, the kill comes once a mutation is
    /// admitted and unanswered), and while a throttled backlog is being coalesced; restart after `downSeconds`.
    func inject(_ c: BlackFriday.LoadContext, _ injector: FaultInjector) async throws {
        for i in 0..<injector.settings.kills {
            try await injector.at(c, injector.killTime(i))
            try await Self.once(c, injector, withWriteInFlight: i % 2 == 0, downSeconds: injector.settings.downSeconds)
        }
    }

    /// One kill and the restart after `downSeconds` (the soak's too): with a write in flight at Shopify, or while every
    /// shop is throttled.
    static func once(_ c: BlackFriday.LoadContext, _ injector: FaultInjector, withWriteInFlight: Bool, downSeconds: Double)
        async throws
    {
        if withWriteInFlight {
            for shop in injector.stack.domains { try await c.sim.setFaults(ShopFaults(latencyMs: 30), shop: shop) }
            let deadline = ContinuousClock.now + .seconds(3)
            var inFlight: [String] = []
            while inFlight.isEmpty, ContinuousClock.now < deadline {
                for shop in injector.stack.domains { inFlight += try await c.sim.idempotencyKeysInFlight(shop: shop) }
                if inFlight.isEmpty { try await Task.sleep(for: .milliseconds(2)) }
            }
            try await injector.stack.kill9(.exporter)
            await injector.note(
                inFlight.isEmpty
                    ? "SIGKILL exporter (no write was in flight within 3 s)"
                    : "SIGKILL exporter with \(inFlight.count) write(s) in flight at Shopify")
        } else {
            for shop in injector.stack.domains { try await c.sim.setFaults(ShopFaults(throttled: true), shop: shop) }
            try await Task.sleep(for: .seconds(1))
            let page = await injector.stack.metrics(injector.stack.exporterOpsURL)
            try await injector.stack.kill9(.exporter)
            await injector.note(
                "SIGKILL exporter while every shop was throttled for 1 s (\(Int(BlackFriday.counter(page, "stockwire_exporter_coalesced_total"))) "
                    + "messages coalesced by this instance)")
        }
        for shop in injector.stack.domains { try await c.sim.setFaults(ShopFaults(), shop: shop) }
        try await Task.sleep(for: .milliseconds(Int(downSeconds * 1000)))
        try await injector.restart(.exporter)
        await injector.note("exporter restarted and ready")
    }
}
