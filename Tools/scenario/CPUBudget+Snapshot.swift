import Foundation
import ScenarioReports
import Toolbox

extension CPUBudget {
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

    /// The CPU each part used from `start` to `end`, on this machine's cores.
    init(from start: Snapshot, to end: Snapshot) {
        var seconds: [String: Double] = [:]
        for (name, value) in end.seconds { seconds[name] = max(0, value - (start.seconds[name] ?? 0)) }
        self.init(
            seconds: seconds, machineBusySeconds: max(0, end.machineBusySeconds - start.machineBusySeconds),
            wallSeconds: max(0.001, end.taken.timeIntervalSince(start.taken)), cores: Machine.cores)
    }
}
