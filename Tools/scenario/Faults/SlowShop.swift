import Foundation
import ScenarioReports
import ShopifySimulator
import Toolbox

/// The `slow-shop` fault.
struct SlowShop: FaultDefinition {
    let summary = """
        The first shop answers 429 with Retry-After, then THROTTLED, then 5xx, then hangs, each for --down-seconds \
        (default 10; give 120 for "hanging for minutes"), while the other shops stay healthy: their end-to-end latency \
        is compared with the seconds before, the slow shop must never be called before its Retry-After, and the \
        exporter's memory must stay flat.
        """

    var defaultDownSeconds: Double { 10 }

    /// The first shop misbehaves in four phases while the others are healthy (see ``summary``).
    func inject(_ c: BlackFriday.LoadContext, _ injector: FaultInjector) async throws {
        let slow = injector.stack.domains[0]
        let healthy = Set(injector.stack.domains.dropFirst())
        guard !healthy.isEmpty else { throw ScenarioError("slow-shop needs at least 2 shops") }
        let metric = "stockwire_exporter_end_to_end_seconds"
        func latency(_ page: String) -> LatencyHistogram? {
            let lines = page.split(separator: "\n").filter { line in healthy.contains { line.contains("shop=\"\($0)\"") } }
            return LatencyHistogram.parse(lines.joined(separator: "\n"), metric: metric)
        }
        func p99(_ h: LatencyHistogram?) -> Double? { h.flatMap { $0.count > 0 ? $0.quantile(0.99)?.estimateMs : nil } }
        // The baseline: the healthy shops' writes from 15 % to 30 % of the load (after the seeding's backlog).
        try await injector.at(c, injector.load.seconds * 0.15)
        let start = await injector.stack.metrics(injector.stack.exporterOpsURL)
        try await injector.at(c, injector.load.seconds * 0.3)
        let before = await injector.stack.metrics(injector.stack.exporterOpsURL)
        let rssBefore = Self.residentKiB(.exporter, of: injector.stack)
        var rssPeak = rssBefore
        let firstLogged = (await c.sim.writeLog(shop: slow).last?.sequence ?? 0)
        let phases: [(String, ShopFaults)] = [
            ("429 with Retry-After", ShopFaults(throttled: true, throttle429: true)),
            ("THROTTLED", ShopFaults(throttled: true)),
            ("502/503 on every call", ShopFaults(errorRate: 1)),
            ("hanging", ShopFaults(hang: true)),
        ]
        for (name, faults) in phases {
            try await c.sim.setFaults(faults, shop: slow)
            await injector.note("\(slow): \(name) for \(Int(injector.settings.downSeconds)) s")
            let until = ContinuousClock.now + .milliseconds(Int(injector.settings.downSeconds * 1000))
            while ContinuousClock.now < until {
                try await Task.sleep(for: .milliseconds(500))
                rssPeak = max(rssPeak, Self.residentKiB(.exporter, of: injector.stack))
            }
        }
        try await c.sim.setFaults(ShopFaults(), shop: slow)
        let during = await injector.stack.metrics(injector.stack.exporterOpsURL)
        let baseline = latency(before)?.subtracting(latency(start))
        let faulted = latency(during)?.subtracting(latency(before))
        let p99Before = p99(baseline)
        let p99During = p99(faulted)
        func ms(_ v: Double?) -> String { v.map { String(format: "%.0f ms", $0) } ?? "–" }
        await injector.note(
            "\(slow) healthy again; the other shops' end-to-end p99 \(ms(p99Before)) before (\(baseline?.count ?? 0) writes), "
                + "\(ms(p99During)) during (\(faulted?.count ?? 0) writes); exporter resident memory \(rssBefore / 1024) MiB before, "
                + "peak \(rssPeak / 1024) MiB")
        if let b = p99Before, let d = p99During, d > 2 * b + 100 {
            await injector.fail("the healthy shops' p99 went from \(ms(b)) to \(ms(d)) while \(slow) misbehaved")
        }
        if (faulted?.count ?? 0) == 0 { await injector.fail("the healthy shops were not written while \(slow) misbehaved") }
        if rssPeak > rssBefore + 64 * 1024 {
            await injector.fail("the exporter grew from \(rssBefore / 1024) to \(rssPeak / 1024) MiB while \(slow) misbehaved")
        }
        // Never called before Retry-After: each call after a 429 comes at least its Retry-After later.
        let calls = await c.sim.writeLog(shop: slow, since: firstLogged)
        let parse = ISO8601DateFormatter()
        parse.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var early: [String] = []
        var answered429 = 0
        for (call, next) in zip(calls, calls.dropFirst()) {
            guard call.httpStatus == 429, let wait = call.retryAfter else { continue }
            answered429 += 1
            guard let t0 = parse.date(from: call.time), let t1 = parse.date(from: next.time) else { continue }
            if t1.timeIntervalSince(t0) < Double(wait) - 0.05 {
                early.append(String(format: "%@ +%.2f s after Retry-After: %d", next.time, t1.timeIntervalSince(t0), wait))
            }
        }
        await injector.note("\(answered429) answers 429 with Retry-After; calls before it had passed: \(early.count)")
        if answered429 == 0 { await injector.fail("\(slow) never answered 429: the exporter did not call it while throttled") }
        if !early.isEmpty { await injector.fail("\(slow) was called before its Retry-After: \(early.prefix(3))") }
    }

    /// The resident memory of a service in KiB (0 when it is not running).
    private static func residentKiB(_ service: Stack.Service, of stack: Stack) -> Int {
        stack.process(service).flatMap { LinuxProcess(pid: $0.processIdentifier).residentKiB } ?? 0
    }
}
