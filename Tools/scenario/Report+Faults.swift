import Foundation

extension Report {
    /// A fault run: what was injected, the load's figures, and the checker's.
    static func text(_ r: FaultRun.Result) -> String {
        let c = r.checker
        var lines = ["", "══ Fault: \(r.fault.rawValue) ══"]
        for e in r.events { lines.append(String(format: "  +%6.2f s  ", e.t) + e.what) }
        if !r.restarts.isEmpty {
            lines.append("restarts: " + r.restarts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        lines.append(text(r.load))
        lines.append("")
        lines.append("── Checker ──")
        lines.append(
            "sent \(c.sent) events, answered 2xx \(c.accepted) (never: \(c.neverAccepted)), applied \(c.applied): lost \(c.lost)"
                + (c.lostInDeadLetters > 0 ? " (\(c.lostInDeadLetters) in dead letters)" : "")
                + ", duplicated \(c.duplicated), unexpected \(c.unexpected), orders rolled back \(c.rolledBack)")
        lines.append(
            "stale writes \(c.staleWrites) (versions known for \(c.writes.versionFromReference) single-SKU writes from their "
                + "reference and \(c.writes.versionFromReports) reported writes, of \(c.writes.applied) SKU-writes applied)")
        let p = c.publications
        lines.append(
            "availability published: \(p.messages) messages, \(p.republished) republished, \(p.outOfOrder) after a newer version, "
                + "\(p.conflicting) versions with conflicting contents")
        let a = c.accounting
        lines.append(
            "accounting (calculator.events by message id): published \(a.published) = applied \(a.applied) + dead-lettered "
                + "\(a.deadLettered); unaccounted \(a.unaccounted), both \(a.appliedAndDeadLettered), applied but never published "
                + "\(a.appliedNotPublished), still queued \(a.remaining): \(a.balanced ? "balanced" : "NOT BALANCED")")
        let exporterDead = a.exporterDeadLetters.values.reduce(0) { $0 + $1.count }
        lines.append(
            "dead letters: calculator \(a.calculatorDeadLetters.count), exporters \(exporterDead): "
                + (a.deadLettersAsExpected ? "exactly the poison injected" : "NOT as expected"))
        lines.append("oversold \(c.oversoldUnits) units over \(c.oversoldSkus) SKUs (reported, not a failure)")
        lines.append(
            c.converged
                ? String(
                    format: "converged %.1f s after the fault healed and Shopify's last retry was delivered (that took %.1f s; limit %.0f s)",
                    c.convergenceSeconds, c.secondsWaitingForShopify, Checker.convergenceLimitSeconds)
                : "NOT converged")
        lines.append(c.passed ? "checker: PASSED" : "checker: FAILED — " + c.failures.joined(separator: "; "))
        for e in c.examples { lines.append("  \(e)") }
        return lines.joined(separator: "\n")
    }
}
