import Foundation

extension Report {
    static func text(_ r: BlackFriday.Result) -> String {
        let s = r.settings
        var lines = ["", "══ Black Friday ══"]
        lines.append(
            "\(Int(s.rate)) events/s for \(Int(s.seconds)) s, \(r.shops.count) shops, \(s.skus) SKUs (Zipf \(s.zipfExponent)), "
                + "webhook duplicates \(Int(s.duplicateRate * 100)) %, reordering within \(s.reorderWindowMs) ms; load average \(r.loadAverage)"
        )
        let kinds = BlackFriday.Kind.allCases.map {
            "\($0.rawValue) \(r.done[$0.rawValue] ?? 0)"
                + ((r.refused[$0.rawValue] ?? 0) > 0 ? " (+\(r.refused[$0.rawValue]!) refused)" : "")
        }
        lines.append("events done: " + kinds.joined(separator: ", ") + String(format: "; issued at %.0f/s", r.issuedPerSecond))
        lines.append(
            String(
                format:
                    "webhooks accepted (2xx): %d in %.1f s = %.0f/s sustained (per second: median %.0f, lowest %.0f); %d duplicates injected, %d failed attempts",
                r.webhooksAccepted, r.acceptSeconds, r.webhooksPerSecond, r.webhooksPerSecondMedian, r.webhooksPerSecondLowest,
                r.duplicatesInjected, r.webhookAttemptsFailed))
        let c = r.calculatorCounters
        lines.append(
            "calculator: \(r.eventsApplied) events applied exactly once this run (dedupe table); during the load "
                + String(
                    format: "applied %.0f, duplicates dropped %.0f, stale snapshots %.0f, ignored %.0f", c["applied"] ?? 0,
                    c["duplicate"] ?? 0, c["stale"] ?? 0, c["ignored"] ?? 0)
                + "; warehouse movements accepted \(r.movementsAccepted)")
        lines.append("end to end, ingest receipt → write applied in each shop: " + (r.endToEnd?.summary ?? "no exporter figures"))
        if let answers = r.shopWriteAnswers, answers.count > 0 {
            lines.append("of which the shops' own time, request → answer of a write (simulated Shopify): " + answers.summary)
        }
        lines.append(String(format: "quiet and converged %.1f s after the last event was issued", r.secondsToQuiet))
        for name in r.resources.keys.sorted() {
            let res = r.resources[name]!
            lines.append(String(format: "%@: %.1f s CPU, peak %.0f MiB", name, res.cpuSeconds, res.peakMiB))
        }
        if let cpu = r.cpu {
            lines.append("from the load's start until quiet: " + cpu.summary(per: r.webhooksAccepted, unit: "webhook"))
        }
        if let counts = r.counts {
            let per = counts.perWebhook(r.webhooksAccepted)
            let order = [
                "broker messages published", "queue copies written", "deliveries acked", "SQL statements", "SQL round trips",
                "SQL transactions",
                "Admin API calls", "shop reads",
            ]
            lines.append(
                "per accepted webhook: " + order.map { String(format: "%@ %.2f", $0, per[$0] ?? 0) }.joined(separator: ", "))
        }
        if let raw = r.rawLimit {
            lines.append(text(raw))
            lines.append(
                String(
                    format:
                        "pipeline throughput / raw broker limit: %.0f / %.0f = %.2f (each webhook crosses the broker at least twice: events, availability per shop)",
                    r.webhooksPerSecond, raw.limitPerSecond, r.webhooksPerSecond / max(raw.limitPerSecond, 1)))
        }
        lines.append(consistencyLine(r.consistency))
        return lines.joined(separator: "\n")
    }

    static func text(_ raw: RawLimit.Result) -> String {
        func ms(_ v: Double?) -> String { v.map { String(format: "%.1f", $0) } ?? "–" }
        return String(
            format:
                "raw broker limit (quorum, persistent %d B, confirm window 100, %.0f s cells; load average %@): publish+confirm %.0f/s (confirm p50 %@ ms, p99 %@ ms), consume+ack %.0f/s",
            raw.bodySize, raw.seconds, raw.loadAverage, raw.publishConfirmPerSecond, ms(raw.confirmP50Ms), ms(raw.confirmP99Ms),
            raw.consumeAckPerSecond)
    }

    static func consistencyLine(_ c: ProductDrop.Consistency) -> String {
        c.passed
            ? "consistency check: passed (every shop equals the truth; the truth equals the orders and movements sent)"
            : "consistency check: FAILED — " + c.details.joined(separator: "; ")
    }

    /// The product drop event-driven and with interval export, side by side.
    static func comparison(_ live: ProductDrop.Result, _ interval: ProductDrop.Result) -> String {
        let minutes = 15.0
        let scale = interval.settings.intervalSeconds.map { minutes * 60 / $0 } ?? 0
        var lines = ["", "══ Event-driven vs interval export (same drop) ══"]
        lines.append(
            String(
                format: "interval export every %.2f s, standing for %.0f min (time × %.0f: the %.0f s drop stands for %.0f min)",
                interval.settings.intervalSeconds ?? 0, minutes, scale, interval.settings.seconds,
                interval.settings.seconds * scale / 60))
        lines.append("                      event-driven   interval")
        func row(_ name: String, _ a: Int, _ b: Int) {
            lines.append(name.padding(toLength: 22, withPad: " ", startingAt: 0) + String(format: "%12d %10d", a, b))
        }
        row("sold", live.sold, interval.sold)
        row("oversold", live.oversold, interval.oversold)
        row("stranded", live.stranded, interval.stranded)
        row("refused buyers", live.refused, interval.refused)
        lines.append(
            "consistency           " + (live.consistency.passed ? "      passed" : "      FAILED")
                + (interval.consistency.passed ? "     passed" : "     FAILED"))
        return lines.joined(separator: "\n")
    }
}
