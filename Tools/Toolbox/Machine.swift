import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The machine a tool measures on, as Linux's `/proc` shows it: what a benchmark or scenario report prints beside
/// its figures, and the whole machine's CPU time, which tells whether a figure was bounded by the cores.
public enum Machine {
    /// Cores this process may use.
    public static var cores: Int { ProcessInfo.processInfo.activeProcessorCount }

    /// Physical memory in GiB.
    public static var memoryGiB: Double { Double(ProcessInfo.processInfo.physicalMemory) / 1_073_741_824 }

    /// The CPU model (`model name` of `/proc/cpuinfo`).
    public static var cpuModel: String? {
        (read("cpuinfo") ?? "").split(separator: "\n").first { $0.hasPrefix("model name") }
            .flatMap { $0.split(separator: ":", maxSplits: 1).last }
            .map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// The kernel release (`6.8.0-49-generic`).
    public static var kernelRelease: String? {
        read("sys/kernel/osrelease").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    /// The 1, 5 and 15-minute load average (`0.52 0.61 0.70`): other users' work shows here.
    public static var loadAverage: String? {
        read("loadavg").map { $0.split(separator: " ").prefix(3).joined(separator: " ") }
    }

    /// CPU seconds of all cores since boot (first line of `/proc/stat`): busy, which is everything but idle and
    /// iowait, and the total. Two readings apart, busy ÷ total is the share of the machine that was busy.
    public static func cpuSeconds() -> (busy: Double, total: Double)? {
        guard let text = read("stat"), let line = text.split(separator: "\n").first, line.hasPrefix("cpu ") else {
            return nil
        }
        let fields = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard fields.count >= 5 else { return nil }
        // user nice system idle iowait irq softirq steal (guest time is already inside user).
        let total = fields.prefix(8).reduce(0, +)
        let idle = fields[3] + fields[4]
        return ((total - idle) / ticksPerSecond, total / ticksPerSecond)
    }

    /// The unit of every CPU time in `/proc` (`USER_HZ`).
    static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    private static func read(_ file: String) -> String? { try? String(contentsOfFile: "/proc/\(file)", encoding: .utf8) }
}
