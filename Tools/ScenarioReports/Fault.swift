import Foundation

/// The faults the reliability suite injects, one per run, each under a Black Friday load (RELIABILITY.md), by the
/// name the command line and the JSON report use. What each one does: `Tools/scenario/Faults/Fault+Definition.swift`.
public enum Fault: String, CaseIterable, Codable, Sendable {
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
}
