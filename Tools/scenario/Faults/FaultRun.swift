import Foundation
import NetworkFaults
import ScenarioReports
import ShopifySimulator

// What every fault run shares: the run (load, injector, checker) and the injector's tools.

// MARK: - Run

/// One fault run: the Black Friday load with the injector alongside, then the checker.
struct FaultRun {
    /// The report and its settings, in ScenarioReports so that the end-to-end tests decode the very types written.
    typealias Settings = FaultRunReport.Settings
    typealias Result = FaultRunReport

    let stack: Stack
    let settings: Settings
    let load: BlackFriday.Settings
    let virtualHost: String
    let admin: BrokerAdmin
    /// The run's TCP proxy in front of the broker or the database, when the fault cuts one (``FaultDefinition/proxied``).
    var proxy: TCPProxy? = nil

    func run(log: (String) -> Void) async throws -> Result {
        let injection = InjectionLog()
        let captured = ContextBox()
        let injector = FaultInjector(
            stack: stack, settings: settings, load: load, injection: injection, admin: admin, virtualHost: virtualHost,
            proxy: proxy)
        let tap = AvailabilityTap(amqpURL: stack.amqpURL)
        try await tap.declare()
        var blackFriday = BlackFriday(stack: stack, settings: load)
        blackFriday.injector = { context in
            await captured.set(context)
            await injection.begin(at: context.start)
            await injector.run(context)
        }
        let result = try await blackFriday.run(log: log)
        guard let context = await captured.value else { throw ScenarioError("the load never started the fault injector") }
        if let refused = stack.simulator?.webhookDeliveries().refusedSeconds {
            // What Shopify would see of the fault: how long ingest did not take its webhooks.
            await injection.note(
                String(
                    format: "webhooks refused (no 2xx) in %.1f s of the run in all (100 ms windows), from %.1f s to %.1f s",
                    refused.total, refused.first.timeIntervalSince(context.start), refused.last.timeIntervalSince(context.start)))
        } else {
            await injection.note("webhooks refused: none, every delivery attempt answered 2xx")
        }
        log("checking the history (simulator logs, PostgreSQL, broker)")
        var report = try await Checker(
            stack: stack, context: context, injection: injection, virtualHost: virtualHost, admin: admin, tap: tap
        ).run(result)
        let failures = await injection.failures
        if !failures.isEmpty {
            report.failures += failures.map { "fault injector: \($0)" }
            report.passed = false
        }
        return Result(
            fault: settings.fault, settings: settings, virtualHost: virtualHost, events: await injection.events,
            restarts: await injection.restarts, load: result, checker: report)
    }
}

/// Hands the load's context from the injector's task to the checker.
private actor ContextBox {
    var value: BlackFriday.LoadContext?
    func set(_ context: BlackFriday.LoadContext) { value = context }
}

// MARK: - Injector

/// Injects one fault while the load runs, and returns once the fault healed (every service up and ready).
struct FaultInjector: Sendable {
    let stack: Stack
    let settings: FaultRun.Settings
    let load: BlackFriday.Settings
    let injection: InjectionLog
    let admin: BrokerAdmin
    let virtualHost: String
    let proxy: TCPProxy?

    /// Injects the run's fault, then brings back every service that is down and waits until all are ready.
    func run(_ c: BlackFriday.LoadContext) async {
        do {
            try await settings.fault.definition.inject(c, self)
        } catch {
            await injection.fail("\(error)")
        }
        // Whatever happened, every service runs and is ready again before the wait for quiet.
        for service in Stack.Service.allCases {
            for instance in 1...max(1, stack.options.instances) {
                let name = Stack.name(service, instance: instance)
                do {
                    if stack.isRunning(service, instance: instance) {
                        try await stack.waitReady(service, instance: instance, timeout: .seconds(30))
                    } else {
                        try await stack.restart(service, instance: instance)
                        await injection.restarted(service)
                        await injection.note("\(name) was down at the end of the fault: restarted")
                    }
                } catch {
                    await injection.fail("\(name) is not running and ready after the fault: \(error)")
                }
            }
        }
        await injection.note("fault healed: every service up and ready")
    }

    /// Sleeps until `seconds` after the load's first event.
    func at(_ c: BlackFriday.LoadContext, _ seconds: Double) async throws {
        let wait = c.start.addingTimeInterval(seconds).timeIntervalSinceNow
        if wait > 0 { try await Task.sleep(for: .milliseconds(Int(wait * 1000))) }
    }

    /// When kill `i` happens.
    func killTime(_ i: Int) -> Double { settings.killEverySeconds * (Double(i) + 0.5) }

    /// Starts a service again (``Stack/restart(_:instance:extraEnvironment:waitReady:)``) and counts the restart.
    func restart(_ service: Stack.Service, extra: [String: String] = [:], waitReady: Bool = true) async throws {
        try await stack.restart(service, extraEnvironment: extra, waitReady: waitReady)
        await injection.restarted(service)
    }

    /// Records what the injector did, for the report (and prints it).
    func note(_ what: String) async { await injection.note(what) }

    /// Records that the system did not do what the fault checks, or the injector could not do what it asks.
    func fail(_ what: String) async { await injection.fail(what) }

    // MARK: Servers

    /// `deploy/local/<name>.sh args`, off the cooperative pool (a start blocks for seconds); its last line of output.
    @discardableResult
    func server(_ name: String, _ args: [String]) async throws -> String {
        let stack = stack
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<String, any Error>) in
            DispatchQueue.global().async {
                do {
                    let out = try stack.server(name, args)
                    continuation.resume(returning: out.split(separator: "\n").last.map(String.init) ?? "")
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    /// Waits `downSeconds`, then starts deploy/local's `server` again (`<server>.sh start`); returns the seconds the
    /// start took, for the note.
    func startAgain(_ server: String, after downSeconds: Double) async throws -> String {
        try await Task.sleep(for: .milliseconds(Int(downSeconds * 1000)))
        let started = ContinuousClock.now
        try await self.server(server, ["start"])
        return seconds(since: started)
    }

    /// Polls `service`'s `/readyz` every 200 ms until it answers anything but 200 (or does not answer) or `until`
    /// passes. Returns the seconds since `cut` that took and the reason it gave, or nil when it stayed ready.
    func readinessTurnsRed(_ service: Stack.Service, since cut: ContinuousClock.Instant, until: ContinuousClock.Instant) async
        -> (seconds: Double, reason: String)?
    {
        while ContinuousClock.now < until {
            do {
                let (status, body) = try await HTTP.get(stack.readyURL(service))
                if status != 200 { return (Self.elapsed(since: cut), body.trimmingCharacters(in: .whitespacesAndNewlines)) }
            } catch {
                return (Self.elapsed(since: cut), "no answer: \(error)")
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
        return nil
    }

    /// Seconds elapsed since `start`.
    static func elapsed(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    /// Seconds elapsed since `start`, for a note ("2.4").
    func seconds(since start: ContinuousClock.Instant) -> String {
        String(format: "%.1f", Self.elapsed(since: start))
    }

    // MARK: Cluster

    /// The node leading `calculator.events` in the run's virtual host.
    func leaderOfEvents() async throws -> Int {
        let out = try await cluster(["leader", "calculator.events", virtualHost])
        guard let node = out.split(separator: " ").first.flatMap({ Int($0) }) else {
            throw ScenarioError("deploy/local/cluster.sh leader calculator.events: unexpected answer '\(out)'")
        }
        return node
    }

    /// `deploy/local/cluster.sh args`, off the cooperative pool; its last line of output.
    @discardableResult
    func cluster(_ args: [String]) async throws -> String { try await server("cluster", args) }
}

// MARK: - Webhooks refused

extension Array where Element == WebhookDeliveryRecord {
    /// How long webhooks were refused (an answer other than 2xx, or none), as the sum of the 100 ms windows in which
    /// an attempt failed; nil when none failed. A sender that retries sees no longer an outage than this.
    var refusedSeconds: (total: Double, first: Date, last: Date)? {
        let failed = compactMap { r -> Date? in
            guard r.outcome != "dropped", !(r.status.map { (200..<300).contains($0) } ?? false) else { return nil }
            return Timestamp.parsePrecise(r.time)
        }
        guard let first = failed.min(), let last = failed.max() else { return nil }
        let windows = Set(failed.map { Int(($0.timeIntervalSince1970 * 10).rounded(.down)) })
        return (Double(windows.count) / 10, first, last)
    }
}
