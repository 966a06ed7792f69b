import ArgumentParser

/// The faults the reliability suite injects, one per run, each under a Black Friday load (RELIABILITY.md), by the
/// name the command line and the JSON report use. What each one does is in the file its ``definition`` names.
enum Fault: String, CaseIterable, Codable, ExpressibleByArgument, Sendable {
    case killCalculator = "kill-calculator"
    case killExporter = "kill-exporter"
    case killIngest = "kill-ingest"
    case poison
    case lateDuplicates = "late-duplicates"
    case brokerCrash = "broker-crash"
    case postgresCrash = "postgres-crash"
    case memoryAlarm = "memory-alarm"
    case brokerBlackhole = "broker-blackhole"
    case postgresCut = "postgres-cut"
    case slowShop = "slow-shop"
    case soak
    case brokerNodeKill = "broker-node-kill"
    case brokerPartition = "broker-partition"
    case rollingRestart = "rolling-restart"
    case postgresFailover = "postgres-failover"
    case instanceKill = "instance-kill"

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
    static var allValueDescriptions: [String: String] {
        Dictionary(uniqueKeysWithValues: allCases.map { ($0.rawValue, $0.definition.summary) })
    }
}
