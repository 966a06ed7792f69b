import Foundation
import Toolbox

#if canImport(Glibc)
    import Glibc
#endif

/// CPU time consumed so far by this process, the broker, and the whole machine (Linux /proc).
///
/// The difference of two samples tells what a cell cost and what bounded it: on a 2-core machine where client and
/// broker share the cores, a machine near 100 % busy means the figures are a CPU limit, not a broker one.
struct CPUSample {
    /// CPU seconds (user + system) of this process, all threads.
    var process: Double
    /// CPU seconds of every `beam.smp` process (the RabbitMQ node), nil when none is visible.
    var broker: Double?
    /// Busy and total CPU seconds of the machine, all cores.
    var machineBusy: Double?
    var machineTotal: Double?

    /// Takes a sample now.
    static func now() -> CPUSample {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let process =
            Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec)
            + Double(usage.ru_stime.tv_usec) / 1e6
        let machine = Machine.cpuSeconds()
        return CPUSample(
            process: process, broker: brokerTime(), machineBusy: machine?.busy,
            machineTotal: machine?.total)
    }

    /// CPU use between `earlier` and this sample, over `wall` seconds.
    func usage(since earlier: CPUSample, wall: Double) -> CPUUsage {
        func percent(_ a: Double?, _ b: Double?) -> Double? {
            guard let a, let b, wall > 0 else { return nil }
            return (a - b) / wall * 100
        }
        var machine: Double?
        if let busy = machineBusy, let total = machineTotal, let busy0 = earlier.machineBusy,
            let total0 = earlier.machineTotal, total > total0
        {
            machine = (busy - busy0) / (total - total0) * 100
        }
        return CPUUsage(
            clientPercent: percent(process, earlier.process),
            brokerPercent: percent(broker, earlier.broker), machineBusyPercent: machine)
    }

    /// CPU seconds of every `beam.smp` process, nil when none is visible.
    private static func brokerTime() -> Double? {
        let times = LinuxProcess.all().filter { $0.command?.hasPrefix("beam.smp") == true }.compactMap { $0.cpuSeconds() }
        return times.isEmpty ? nil : times.reduce(0, +)
    }
}

/// CPU use during a cell: percent of one core for the processes, percent of all cores for the machine.
public struct CPUUsage: Sendable, Codable, Equatable {
    /// This benchmark process (client), percent of one core.
    public var clientPercent: Double?
    /// The RabbitMQ node (`beam.smp`), percent of one core.
    public var brokerPercent: Double?
    /// The whole machine, percent of all cores (includes other users' work).
    public var machineBusyPercent: Double?
}
