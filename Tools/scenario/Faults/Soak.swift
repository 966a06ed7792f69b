import Foundation
import ScenarioReports
import ShopifySimulator

/// The `soak` fault.
struct Soak: FaultDefinition {
    let summary = """
        A long load with a random one of kill-calculator, kill-exporter, kill-ingest, broker-crash, postgres-crash and \
        memory-alarm every --kill-every seconds (default 180): a service SIGKILLed, the broker crashed, PostgreSQL \
        down 30 s, the memory alarm for 60 s. --seconds 3600 is the one-hour soak of RELIABILITY.md.
        """

    var servers: FaultServers { .single }
    var defaultEvery: Double { 180 }
    var needsLongRetries: Bool { true }

    /// A random fault every `killEverySeconds` while the load runs, each with its own default down time.
    func inject(_ c: BlackFriday.LoadContext, _ injector: FaultInjector) async throws {
        var rng = SplitMix64(seed: injector.load.seed &+ 99)
        let kinds: [Fault] = [.killCalculator, .killExporter, .killIngest, .brokerCrash, .postgresCrash, .memoryAlarm]
        var n = 0
        while injector.settings.killEverySeconds * Double(n + 1) < injector.load.seconds {
            try await injector.at(c, injector.settings.killEverySeconds * Double(n + 1))
            let fault = kinds[rng.below(kinds.count)]
            n += 1
            await injector.note("soak fault \(n): \(fault.rawValue)")
            let down = fault.definition.defaultDownSeconds
            switch fault {
            case .killCalculator: try await KillCalculator.once(injector, crashAfterCommit: rng.below(2) == 1)
            case .killExporter: try await KillExporter.once(c, injector, withWriteInFlight: rng.below(2) == 0, downSeconds: down)
            case .killIngest: try await KillIngest.once(injector, downSeconds: down)
            case .brokerCrash: try await BrokerCrash.once(injector, downSeconds: down)
            case .postgresCrash: try await PostgresCrash.once(injector, downSeconds: down)
            case .memoryAlarm: try await MemoryAlarm.once(c, injector, downSeconds: down)
            default: break
            }
        }
        await injector.note("soak: \(n) faults injected")
    }
}
