import Foundation

/// The broker's raw durable limit as `stockwire-scenario` measured it (`--raw-limit`), in a Black Friday report.
public struct RawLimitReport: Codable, Sendable {
    public var seconds: Double
    public var bodySize: Int
    public var publishConfirmPerSecond: Double
    public var confirmP50Ms: Double?
    public var confirmP99Ms: Double?
    public var consumeAckPerSecond: Double
    /// The smaller of the two: what one durable hop can sustain in and out.
    public var limitPerSecond: Double
    public var brokerCPUPercent: Double?
    public var machineBusyPercent: Double?
    public var loadAverage: String

    /// Creates the report.
    public init(
        seconds: Double, bodySize: Int, publishConfirmPerSecond: Double, confirmP50Ms: Double? = nil, confirmP99Ms: Double? = nil,
        consumeAckPerSecond: Double, limitPerSecond: Double, brokerCPUPercent: Double? = nil, machineBusyPercent: Double? = nil,
        loadAverage: String
    ) {
        self.seconds = seconds
        self.bodySize = bodySize
        self.publishConfirmPerSecond = publishConfirmPerSecond
        self.confirmP50Ms = confirmP50Ms
        self.confirmP99Ms = confirmP99Ms
        self.consumeAckPerSecond = consumeAckPerSecond
        self.limitPerSecond = limitPerSecond
        self.brokerCPUPercent = brokerCPUPercent
        self.machineBusyPercent = machineBusyPercent
        self.loadAverage = loadAverage
    }
}
