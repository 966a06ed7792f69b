import Foundation

/// The `memory-alarm` fault.
struct MemoryAlarm: FaultDefinition {
    let summary = """
        RabbitMQ's memory alarm raised mid-load for --down-seconds (default 60): publishers are blocked, ingest \
        answers 503 quickly (probed with signed deliveries), and Shopify's retries land once after it is lifted.
        """

    var servers: FaultServers { .single }
    var defaultDownSeconds: Double { 60 }
    var needsLongRetries: Bool { true }

    /// The memory alarm at 30 % of the load for `downSeconds`; meanwhile signed deliveries probe how fast ingest
    /// answers (a current order snapshot: applied, it changes nothing).
    func inject(_ c: BlackFriday.LoadContext, _ injector: FaultInjector) async throws {
        try await injector.at(c, injector.load.seconds * 0.3)
        try await Self.once(c, injector, downSeconds: injector.settings.downSeconds)
    }

    /// One alarm of `downSeconds`, probed, and lifted (the soak's too).
    static func once(_ c: BlackFriday.LoadContext, _ injector: FaultInjector, downSeconds: Double) async throws {
        let sender = try InjectedSender(stack: injector.stack, log: injector.injection)
        try await injector.server("rabbitmqctl", ["set_vm_memory_high_watermark", "0"])
        await injector.note("RabbitMQ memory alarm raised (watermark 0): every publisher blocked")
        let until = ContinuousClock.now + .milliseconds(Int(downSeconds * 1000))
        var answers: [Int: Int] = [:]
        var slowest = 0.0
        let shop = injector.stack.domains[0]
        try await Task.sleep(for: .seconds(1))
        while ContinuousClock.now < until {
            if let order = try await c.sim.orders(shop: shop).first {
                let (status, took) = await sender.timed(
                    shop: shop, topic: "orders/updated", body: try InjectedSender.json(order), triggeredAt: Date())
                answers[status ?? 0, default: 0] += 1
                slowest = max(slowest, took)
            }
            try await Task.sleep(for: .milliseconds(500))
        }
        let refused = answers.filter { $0.key == 503 }.values.reduce(0, +)
        let total = answers.values.reduce(0, +)
        await injector.note(
            "during the alarm: \(refused) of \(total) probe deliveries answered 503, slowest answer "
                + String(format: "%.0f ms", slowest * 1000)
                + " (answers: \(answers.sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }.joined(separator: ", ")))")
        if total == 0 || refused < total {
            await injector.fail("ingest did not answer every delivery during the memory alarm with 503: \(answers)")
        } else if slowest > 1 {
            await injector.fail(String(format: "ingest took %.1f s to answer 503 during the memory alarm (limit 1 s)", slowest))
        }
        try await injector.server("rabbitmqctl", ["set_vm_memory_high_watermark", "0.4"])
        await injector.note("memory alarm lifted (watermark 0.4, deploy/local's setting)")
    }
}
