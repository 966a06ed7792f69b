import ArgumentParser
import ScenarioReports

extension Fault: ExpressibleByArgument {
    /// What the fault is and does.
    var definition: any FaultDefinition {
        switch self {
        case .killCalculator: KillCalculator()
        case .killExporter: KillExporter()
        case .killIngest: KillIngest()
        case .poison: Poison()
        case .lateDuplicates: LateDuplicates()
        case .brokerCrash: BrokerCrash()
        case .postgresCrash: PostgresCrash()
        case .memoryAlarm: MemoryAlarm()
        case .brokerBlackhole: BrokerBlackhole()
        case .postgresCut: PostgresCut()
        case .slowShop: SlowShop()
        case .soak: Soak()
        case .brokerNodeKill: BrokerNodeKill()
        case .brokerPartition: BrokerPartition()
        case .rollingRestart: RollingRestart()
        case .postgresFailover: PostgresFailover()
        case .instanceKill: InstanceKill()
        }
    }

    /// Every fault's summary, which `--help` lists under `--fault`.
    public static var allValueDescriptions: [String: String] {
        Dictionary(uniqueKeysWithValues: allCases.map { ($0.rawValue, $0.definition.summary) })
    }
}
