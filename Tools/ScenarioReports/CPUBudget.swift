import Foundation

/// CPU time per part of the system between two moments, read from /proc: the three services, this process (buyers
/// and simulator), RabbitMQ and PostgreSQL, and the whole machine. Divided by the webhooks accepted in between it is
/// the cost of one webhook per part, and the number of cores divided by that cost is the rate this machine can carry
/// at most: what bounds the throughput, as a figure rather than a guess.
public struct CPUBudget: Codable, Equatable, Sendable {
    /// CPU seconds per part between the two snapshots.
    public var seconds: [String: Double]
    /// Busy CPU seconds of the whole machine (all cores, every process) between the two snapshots.
    public var machineBusySeconds: Double
    /// Wall-clock seconds between the two snapshots.
    public var wallSeconds: Double
    public var cores: Int

    public static let rabbitMQ = "RabbitMQ"
    public static let postgreSQL = "PostgreSQL"
    public static let scenario = "scenario (buyers + simulator)"

    /// The parts that make up Stockwire's own pipeline (the load generator and the simulated shops are not).
    public static func isPipeline(_ part: String) -> Bool { part != scenario }

    public init(seconds: [String: Double], machineBusySeconds: Double, wallSeconds: Double, cores: Int) {
        self.seconds = seconds
        self.machineBusySeconds = machineBusySeconds
        self.wallSeconds = wallSeconds
        self.cores = cores
    }

    /// Microseconds of CPU per unit of work (e.g. per accepted webhook), per part.
    public func microseconds(per units: Int) -> [String: Double] {
        seconds.mapValues { $0 * 1e6 / Double(max(units, 1)) }
    }

    /// The most units per second this machine's cores could carry if the pipeline's parts had them to themselves:
    /// cores ÷ the pipeline's CPU per unit.
    public func pipelineCeiling(per units: Int) -> Double {
        let perUnit = seconds.filter { Self.isPipeline($0.key) }.values.reduce(0, +) / Double(max(units, 1))
        return perUnit > 0 ? Double(cores) / perUnit : 0
    }

    /// The share of the machine's cores busy between the snapshots (0…1).
    public var machineBusy: Double { machineBusySeconds / (wallSeconds * Double(cores)) }

    /// "ingest 260, … µs per webhook; …" for the text reports.
    public func summary(per units: Int, unit: String) -> String {
        let us = microseconds(per: units)
        let pipeline = us.filter { Self.isPipeline($0.key) }
        let parts = pipeline.sorted { $0.value > $1.value }.map { String(format: "%@ %.0f", $0.key, $0.value) }
        let total = pipeline.values.reduce(0, +)
        return String(
            format:
                "CPU per %@, µs: %@ = %.0f for Stockwire with its broker and database (at most %.0f %@s/s on %d cores if it had them to itself); %@ %.0f; machine %.0f %% busy",
            unit, parts.joined(separator: ", "), total, pipelineCeiling(per: units), unit, cores, Self.scenario,
            us[Self.scenario] ?? 0, machineBusy * 100)
    }
}
