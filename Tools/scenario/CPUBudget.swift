import Foundation
import Toolbox

/// CPU time per part of the system between two moments, read from /proc: the three services, this process (buyers
/// and simulator), RabbitMQ and PostgreSQL, and the whole machine. Divided by the webhooks accepted in between it is
/// the cost of one webhook per part, and the number of cores divided by that cost is the rate this machine can carry
/// at most: what bounds the throughput, as a figure rather than a guess.
struct CPUBudget: Codable, Equatable {
    /// CPU seconds per part between the two snapshots.
    var seconds: [String: Double]
    /// Busy CPU seconds of the whole machine (all cores, every process) between the two snapshots.
    var machineBusySeconds: Double
    /// Wall-clock seconds between the two snapshots.
    var wallSeconds: Double
    var cores: Int

    static let rabbitMQ = "RabbitMQ"
    static let postgreSQL = "PostgreSQL"
    static let scenario = "scenario (buyers + simulator)"

    /// The parts that make up Stockwire's own pipeline (the load generator and the simulated shops are not).
    static func isPipeline(_ part: String) -> Bool { part != scenario }

    /// CPU seconds consumed so far by each part.
    struct Snapshot {
        var seconds: [String: Double]
        var machineBusySeconds: Double
        var taken: Date

        /// `services`: name → pid of the processes this run started.
        static func take(services: [String: Int32]) -> Snapshot {
            var seconds: [String: Double] = [:]
            // Instances of one service (calculator, calculator-2) are one part.
            for (name, pid) in services {
                let part = name.split(separator: "-").first.map(String.init) ?? name
                seconds[part, default: 0] += LinuxProcess(pid: pid).cpuSeconds() ?? 0
            }
            seconds[CPUBudget.scenario] = LinuxProcess.current.cpuSeconds() ?? 0
            var rabbit = 0.0
            var postgres = 0.0
            for process in LinuxProcess.all() {
                switch process.command {
                // RabbitMQ's Erlang VM, and its port helpers.
                case "beam.smp", "erl_child_setup", "inet_gethost": rabbit += process.cpuSeconds() ?? 0
                // Every PostgreSQL process; the postmaster's reaped children count the backends that ended.
                case "postgres": postgres += process.cpuSeconds(withReapedChildren: true) ?? 0
                default: break
                }
            }
            seconds[CPUBudget.rabbitMQ] = rabbit
            seconds[CPUBudget.postgreSQL] = postgres
            return Snapshot(seconds: seconds, machineBusySeconds: Machine.cpuSeconds()?.busy ?? 0, taken: Date())
        }
    }

    init(from start: Snapshot, to end: Snapshot) {
        var seconds: [String: Double] = [:]
        for (name, value) in end.seconds { seconds[name] = max(0, value - (start.seconds[name] ?? 0)) }
        self.seconds = seconds
        machineBusySeconds = max(0, end.machineBusySeconds - start.machineBusySeconds)
        wallSeconds = max(0.001, end.taken.timeIntervalSince(start.taken))
        cores = Machine.cores
    }

    init(seconds: [String: Double], machineBusySeconds: Double, wallSeconds: Double, cores: Int) {
        self.seconds = seconds
        self.machineBusySeconds = machineBusySeconds
        self.wallSeconds = wallSeconds
        self.cores = cores
    }

    /// Microseconds of CPU per unit of work (e.g. per accepted webhook), per part.
    func microseconds(per units: Int) -> [String: Double] {
        seconds.mapValues { $0 * 1e6 / Double(max(units, 1)) }
    }

    /// The most units per second this machine's cores could carry if the pipeline's parts had them to themselves:
    /// cores ÷ the pipeline's CPU per unit.
    func pipelineCeiling(per units: Int) -> Double {
        let perUnit = seconds.filter { Self.isPipeline($0.key) }.values.reduce(0, +) / Double(max(units, 1))
        return perUnit > 0 ? Double(cores) / perUnit : 0
    }

    /// The share of the machine's cores busy between the snapshots (0…1).
    var machineBusy: Double { machineBusySeconds / (wallSeconds * Double(cores)) }

    /// "ingest 260, … µs per webhook; …" for the text reports.
    func summary(per units: Int, unit: String) -> String {
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
