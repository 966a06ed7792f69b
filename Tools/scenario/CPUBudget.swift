import Foundation

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
                seconds[part, default: 0] += CPUBudget.processSeconds(pid: pid, withReapedChildren: false)
            }
            seconds[CPUBudget.scenario] = CPUBudget.processSeconds(pid: getpid(), withReapedChildren: false)
            var rabbit = 0.0
            var postgres = 0.0
            for pid in CPUBudget.allProcessIDs() {
                switch CPUBudget.command(pid: pid) {
                // RabbitMQ's Erlang VM, and its port helpers.
                case "beam.smp", "erl_child_setup", "inet_gethost": rabbit += CPUBudget.processSeconds(pid: pid, withReapedChildren: false)
                // Every PostgreSQL process; the postmaster's reaped children count the backends that ended.
                case "postgres": postgres += CPUBudget.processSeconds(pid: pid, withReapedChildren: true)
                default: break
                }
            }
            seconds[CPUBudget.rabbitMQ] = rabbit
            seconds[CPUBudget.postgreSQL] = postgres
            return Snapshot(seconds: seconds, machineBusySeconds: CPUBudget.machineBusyTotal(), taken: Date())
        }
    }

    init(from start: Snapshot, to end: Snapshot) {
        var seconds: [String: Double] = [:]
        for (name, value) in end.seconds { seconds[name] = max(0, value - (start.seconds[name] ?? 0)) }
        self.seconds = seconds
        machineBusySeconds = max(0, end.machineBusySeconds - start.machineBusySeconds)
        wallSeconds = max(0.001, end.taken.timeIntervalSince(start.taken))
        cores = ProcessInfo.processInfo.activeProcessorCount
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

    // MARK: - /proc

    private static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    /// utime + stime (and the reaped children's cutime + cstime) of `pid`, in seconds; 0 when it is gone.
    static func processSeconds(pid: Int32, withReapedChildren: Bool) -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return 0 }
        // Fields after "pid (comm)": state is field 3; utime 14, stime 15, cutime 16, cstime 17.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 14 else { return 0 }
        var ticks = (Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)
        if withReapedChildren { ticks += (Double(fields[13]) ?? 0) + (Double(fields[14]) ?? 0) }
        return ticks / ticksPerSecond
    }

    private static func command(pid: Int32) -> String? {
        (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static func allProcessIDs() -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }
    }

    /// Busy seconds of all cores since boot: the first line of /proc/stat minus idle and iowait.
    private static func machineBusyTotal() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
            let line = text.split(separator: "\n").first, line.hasPrefix("cpu ")
        else { return 0 }
        let values = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard values.count >= 5 else { return 0 }
        // user nice system idle iowait irq softirq steal (guest time is already in user).
        let busy = values.prefix(8).enumerated().filter { $0.offset != 3 && $0.offset != 4 }.map(\.element).reduce(0, +)
        return busy / ticksPerSecond
    }
}
