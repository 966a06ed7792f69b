import Foundation

/// The `instance-kill` fault.
struct InstanceKill: FaultDefinition {
    let summary = """
        Cluster: SIGKILL of one instance of ingest, the calculator and the exporter in turn, each started again after \
        --down-seconds (default 0.5), while the second instance carries on.
        """

    var servers: FaultServers { .cluster }

    /// SIGKILL of instance 1 of ingest, the calculator and the exporter in turn (`killEverySeconds` apart), each
    /// started again after `downSeconds`: the other instance carries the load meanwhile.
    func inject(_ c: BlackFriday.LoadContext, _ injector: FaultInjector) async throws {
        for (i, service) in [Stack.Service.ingest, .calculator, .exporter].enumerated() {
            try await injector.at(c, injector.killTime(i))
            try await injector.stack.kill9(service, instance: 1)
            await injector.note("SIGKILL \(service.rawValue) instance 1 (instance 2 runs on)")
            try await Task.sleep(for: .milliseconds(Int(injector.settings.downSeconds * 1000)))
            try await injector.stack.restart(service, instance: 1)
            await injector.injection.restarted(service)
        }
    }
}
