import Foundation
import Toolbox

extension Stack {
    /// The services a fault can hit.
    enum Service: String, CaseIterable, Codable, Sendable {
        case ingest, calculator, exporter
    }

    /// The process name of instance `instance` (from 1) of a service: `calculator`, `calculator-2`.
    static func name(_ service: Service, instance: Int) -> String {
        instance == 1 ? service.rawValue : "\(service.rawValue)-\(instance)"
    }

    /// The process of a service instance, if it was started.
    func process(_ service: Service, instance: Int = 1) -> Process? {
        let name = Self.name(service, instance: instance)
        return processes.last { $0.name == name }?.process
    }

    /// Whether a service instance's process is alive.
    func isRunning(_ service: Service, instance: Int = 1) -> Bool { process(service, instance: instance)?.isRunning ?? false }

    /// The service instance's `/readyz`.
    func readyURL(_ service: Service, instance: Int = 1) -> String {
        switch service {
        case .ingest: return "\(ingestURL(instance: instance))/readyz"
        case .calculator: return "\(calculatorOpsURL(instance: instance))/readyz"
        case .exporter: return "\(exporterOpsURL(instance: instance))/readyz"
        }
    }

    /// Kills a service instance with SIGKILL — no graceful shutdown, no flush, as when a node dies or the OOM killer
    /// strikes — and returns once the process is gone.
    func kill9(_ service: Service, instance: Int = 1) async throws {
        guard let p = process(service, instance: instance), p.isRunning else {
            throw ScenarioError("\(Self.name(service, instance: instance)) is not running")
        }
        p.killAtOnce()
        try await waitExit(service, instance: instance, timeout: .seconds(10))
    }

    /// Waits until a service instance's process has exited; false when it still runs after `timeout`.
    @discardableResult
    func waitExit(_ service: Service, instance: Int = 1, timeout: Duration) async throws -> Bool {
        try await process(service, instance: instance)?.waitForExit(timeout: timeout, polling: .milliseconds(5)) ?? true
    }

    /// Starts a service that is not running again, with the arguments and environment it was first started with plus
    /// `extraEnvironment`; its output goes on in the same log. Waits for `/readyz` unless `waitReady` is false.
    func restart(
        _ service: Service, instance: Int = 1, extraEnvironment: [String: String] = [:], waitReady: Bool = true
    ) async throws {
        let name = Self.name(service, instance: instance)
        guard let launch = launches[name], let index = processes.lastIndex(where: { $0.name == name }) else {
            throw ScenarioError("\(name) was never started")
        }
        guard !processes[index].process.isRunning else { throw ScenarioError("\(name) is still running") }
        let handle = try FileHandle.log(at: logURL(of: name).path, appending: true)
        let extra = extraEnvironment.keys.sorted().map { " \($0)=\(extraEnvironment[$0]!)" }.joined()
        handle.write(Data("\n==== scenario: \(name) restarted after exit status \(processes[index].process.terminationStatus)\(extra) ====\n".utf8))
        let p = try Process.launch(
            "\(options.buildDirectory)/\(launch.binary)", launch.arguments,
            environment: launch.environment.merging(extraEnvironment) { $1 }, output: handle)
        processes[index] = (name, p)
        if waitReady { try await self.waitReady(service, instance: instance, timeout: .seconds(60)) }
    }

    /// Waits until a service answers `/readyz` with 200 (at its first start and after a restart); throws when it
    /// exits or is not ready within `timeout`.
    func waitReady(_ service: Service, instance: Int = 1, timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        let name = Self.name(service, instance: instance)
        let url = readyURL(service, instance: instance)
        while ContinuousClock.now < deadline {
            if let (status, _) = try? await HTTP.get(url), status == 200 { return }
            if !isRunning(service, instance: instance) {
                throw ScenarioError(
                    "\(name) exited with status \(process(service, instance: instance)?.terminationStatus ?? -1) while starting; "
                        + "see \(work.path)/\(name)*.log")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw ScenarioError("\(name) not ready within \(timeout) (\(url)); see \(work.path)/\(name)*.log")
    }

    /// The shop's webhook secret, as the run wrote it for ingest (to sign webhooks the fault injector sends itself).
    func webhookSecret(shop: String) throws -> String {
        try String(contentsOf: work.appendingPathComponent("\(shop).webhook-secret"), encoding: .utf8)
    }
}
