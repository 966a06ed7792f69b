import Foundation

/// A fault run's JSON report (`stockwire-scenario faults --json`): what the injector did, the load and the
/// checker's figures, as the end-to-end tests read them. The keys are the property names.
public struct FaultRunReport: Codable, Sendable {
    public var fault: Fault
    public var settings: Settings
    public var virtualHost: String
    /// What the injector did, with times since the load's first event.
    public var events: [FaultEvent]
    public var restarts: [String: Int]
    public var load: BlackFridayReport
    public var checker: CheckerReport

    /// Creates the report.
    public init(
        fault: Fault, settings: Settings, virtualHost: String, events: [FaultEvent], restarts: [String: Int],
        load: BlackFridayReport, checker: CheckerReport
    ) {
        self.fault = fault
        self.settings = settings
        self.virtualHost = virtualHost
        self.events = events
        self.restarts = restarts
        self.load = load
        self.checker = checker
    }

    /// The fault and how hard it is injected.
    public struct Settings: Codable, Sendable {
        public var fault: Fault
        public var kills: Int
        public var killEverySeconds: Double
        public var downSeconds: Double

        /// Creates the settings.
        public init(fault: Fault, kills: Int, killEverySeconds: Double, downSeconds: Double) {
            self.fault = fault
            self.kills = kills
            self.killEverySeconds = killEverySeconds
            self.downSeconds = downSeconds
        }
    }
}
