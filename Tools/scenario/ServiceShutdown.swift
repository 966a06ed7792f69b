import ArgumentParser
import Foundation

/// How a service ended when the scenario stopped it with SIGTERM, as an orchestrator does.
///
/// A clean stop is exit status 0 within ``Stack/shutdownGrace``: the service finished or handed back what it was
/// doing (unacked deliveries go back to the broker, the outbox keeps what was not published) and closed its
/// connections. Anything else is a defect an operator would see as a failed pod or unit: a non-zero status, death
/// by a signal, a hang until SIGKILL, or a service that had died before the stop.
struct ServiceShutdown: Sendable, Equatable, CustomStringConvertible {
    /// How a process ended.
    struct Ending: Sendable, Equatable, CustomStringConvertible {
        var signalled: Bool
        var status: Int32

        init(_ process: Process) {
            signalled = process.terminationReason == .uncaughtSignal
            status = process.terminationStatus
        }

        var description: String { signalled ? "killed by signal \(status)" : "exited with status \(status)" }
    }

    enum Outcome: Sendable, Equatable {
        /// Ended after the SIGTERM.
        case ended(Ending, after: Duration)
        /// Still running after the grace period, then killed.
        case killed(after: Duration)
        /// Had already ended before the stop (a crash the run did not notice).
        case endedBefore(Ending)
    }

    let name: String
    let outcome: Outcome
    /// The service's log, for the reason of an unclean stop.
    let log: String

    var clean: Bool {
        if case .ended(let ending, _) = outcome { return !ending.signalled && ending.status == 0 }
        return false
    }

    var description: String {
        switch outcome {
        case .ended(let ending, let after):
            let seconds = Double(after.components.seconds) + Double(after.components.attoseconds) / 1e18
            return "\(name) \(ending), \(String(format: "%.2f", seconds)) s after SIGTERM"
        case .killed(let after):
            return "\(name) still running \(after) after SIGTERM, killed"
        case .endedBefore(let ending):
            return "\(name) had already ended before the stop (\(ending))"
        }
    }

    /// One line for the run's output: each service's ending, and where to look when one was not clean.
    static func summary(_ services: [ServiceShutdown]) -> String {
        let unclean = services.filter { !$0.clean }
        if unclean.isEmpty { return "services stopped cleanly on SIGTERM: " + services.map(\.description).joined(separator: "; ") }
        return "services did not stop cleanly on SIGTERM: "
            + unclean.map { "\($0) (log: \($0.log))" }.joined(separator: "; ")
    }

    /// Prints how the services stopped; an unclean stop fails the run with exit status 2, as a failed run does.
    static func require(clean services: [ServiceShutdown]) throws {
        guard !services.isEmpty else { return }
        if services.allSatisfy(\.clean) {
            print("• \(summary(services))")
        } else {
            print("✘ \(summary(services))")
            throw ExitCode(2)
        }
    }
}
