import Foundation

extension Stack {
    /// The services a fault can hit.
    enum Service: String, CaseIterable, Codable, Sendable {
        case ingest, calculator, exporter
    }

    /// The process of a service, if it was started.
    func process(_ service: Service) -> Process? {
        processes.last { $0.name == service.rawValue }?.process
    }

    /// Whether a service's process is alive.
    func isRunning(_ service: Service) -> Bool { process(service)?.isRunning ?? false }

    /// The service's `/readyz`.
    func readyURL(_ service: Service) -> String {
        switch service {
        case .ingest: return "\(ingestURL)/readyz"
        case .calculator: return "\(calculatorOpsURL)/readyz"
        case .exporter: return "\(exporterOpsURL)/readyz"
        }
    }

    /// Kills a service with SIGKILL — no graceful shutdown, no flush, as when a node dies or the OOM killer strikes —
    /// and returns once the process is gone.
    func kill9(_ service: Service) async throws {
        guard let p = process(service), p.isRunning else { throw ScenarioError("\(service.rawValue) is not running") }
        kill(p.processIdentifier, SIGKILL)
        try await waitExit(service, timeout: .seconds(10))
    }

    /// Waits until a service's process has exited; false when it still runs after `timeout`.
    @discardableResult
    func waitExit(_ service: Service, timeout: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while isRunning(service) {
            if ContinuousClock.now >= deadline { return false }
            try await Task.sleep(for: .milliseconds(5))
        }
        return true
    }

    /// Starts a service that is not running again, with the arguments and environment it was first started with plus
    /// `extraEnvironment`; its output goes on in the same log. Waits for `/readyz` unless `waitReady` is false.
    func restart(_ service: Service, extraEnvironment: [String: String] = [:], waitReady: Bool = true) async throws {
        let name = service.rawValue
        guard let launch = launches[name], let index = processes.lastIndex(where: { $0.name == name }) else {
            throw ScenarioError("\(name) was never started")
        }
        guard !processes[index].process.isRunning else { throw ScenarioError("\(name) is still running") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "\(options.buildDirectory)/\(name)")
        p.arguments = launch.arguments
        p.environment = ProcessInfo.processInfo.environment.merging(launch.environment) { $1 }.merging(extraEnvironment) { $1 }
        let handle = try FileHandle(forWritingTo: logURL(of: name))
        handle.seekToEndOfFile()
        let extra = extraEnvironment.keys.sorted().map { " \($0)=\(extraEnvironment[$0]!)" }.joined()
        handle.write(Data("\n==== scenario: \(name) restarted after exit status \(processes[index].process.terminationStatus)\(extra) ====\n".utf8))
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        processes[index] = (name, p)
        if waitReady { try await self.waitReady(service, timeout: .seconds(60)) }
    }

    /// Waits until a service answers `/readyz` with 200 (at its first start and after a restart); throws when it
    /// exits or is not ready within `timeout`.
    func waitReady(_ service: Service, timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let (status, _) = try? await HTTP.get(readyURL(service)), status == 200 { return }
            if !isRunning(service) {
                throw ScenarioError(
                    "\(service.rawValue) exited with status \(process(service)?.terminationStatus ?? -1) while starting; "
                        + "see \(work.path)/\(service.rawValue)*.log")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw ScenarioError(
            "\(service.rawValue) not ready within \(timeout) (\(readyURL(service))); see \(work.path)/\(service.rawValue)*.log")
    }

    /// The shop's webhook secret, as the run wrote it for ingest (to sign webhooks the fault injector sends itself).
    func webhookSecret(shop: String) throws -> String {
        try String(contentsOf: work.appendingPathComponent("\(shop).webhook-secret"), encoding: .utf8)
    }
}
