import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A process as Linux's `/proc/<pid>` shows it: the CPU time and memory it has used so far.
///
/// How the scenario runner and the benchmarks measure a service, the broker or the database from outside. Every read
/// opens the file again, so a process that is gone reads as nil.
public struct LinuxProcess: Sendable, Hashable {
    /// The process's directory under `/proc`: its pid, or `self`.
    public let directory: String

    /// The process with this pid.
    public init(pid: Int32) { directory = "\(pid)" }

    private init(directory: String) { self.directory = directory }

    /// This process.
    public static let current = LinuxProcess(directory: "self")

    /// Every process visible in `/proc` now.
    public static func all() -> [LinuxProcess] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0).map(LinuxProcess.init(pid:)) }
    }

    /// CPU seconds (user + system) used so far, all threads; with `reapedChildren`, plus those of the children it has
    /// waited for (a PostgreSQL postmaster's ended backends). Nil when the process is gone.
    public func cpuSeconds(withReapedChildren reapedChildren: Bool = false) -> Double? {
        guard let stat = read("stat"), let close = stat.lastIndex(of: ")") else { return nil }
        // The command name (field 2) is in parentheses and may hold spaces: count the fields after the last ')'. They
        // start at field 3 (state), so utime (14), stime (15), cutime (16) and cstime (17) are at offsets 11 to 14.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        let wanted = reapedChildren ? 11...14 : 11...12
        guard fields.count > wanted.upperBound else { return nil }
        var ticks = 0.0
        for i in wanted {
            guard let value = Double(fields[i]) else { return nil }
            ticks += value
        }
        return ticks / Machine.ticksPerSecond
    }

    /// The command name (`comm`, at most 15 characters: `beam.smp`, `postgres`), nil when the process is gone.
    public var command: String? { read("comm")?.trimmingCharacters(in: .whitespacesAndNewlines) }

    /// Resident memory now (`VmRSS`), in KiB; nil when the process is gone.
    public var residentKiB: Int? { statusKiB("VmRSS") }

    /// The most resident memory it ever had (`VmHWM`), in KiB; nil when the process is gone.
    public var peakResidentKiB: Int? { statusKiB("VmHWM") }

    /// The number of a `status` line such as `VmRSS:\t   12345 kB`.
    private func statusKiB(_ field: String) -> Int? {
        guard let status = read("status"),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") })
        else { return nil }
        return line.split(whereSeparator: \.isWhitespace).dropFirst().first.flatMap { Int($0) }
    }

    private func read(_ file: String) -> String? {
        try? String(contentsOfFile: "/proc/\(directory)/\(file)", encoding: .utf8)
    }
}
