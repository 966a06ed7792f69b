import Foundation

/// The product drop's report, as text for a merchant (the charts: `Report+Charts.swift`).
enum Report {
    static func text(_ r: ProductDrop.Result) -> String {
        func ms(_ v: Double?) -> String { v.map { String(format: "%.0f ms", $0) } ?? "–" }
        var lines: [String] = []
        let shopsLine = r.shops.map { "\($0): \(r.soldPerShop[$0] ?? 0)" }.joined(separator: ", ")
        lines.append("")
        lines.append(
            r.mode == "interval"
                ? "══ Product drop, interval export (baseline) ══"
                : r.mode == "guard"
                    ? "══ Product drop, zero-oversell guard at \(r.settings.guardThreshold ?? 0) units ══" : "══ Product drop ══")
        lines.append(
            "\(r.settings.units) units, \(r.shops.count) shops, \(r.settings.buyers) buyers in \(Int(r.settings.seconds)) s: "
                + "sold \(r.sold), oversold \(r.oversold)"
                + (r.secondsToSellOut.map { String(format: ", sold out after %.1f s", $0) } ?? ""))
        lines.append("sold per shop: \(shopsLine); refused (shop showed too little): \(r.refused); stranded (never offered): \(r.stranded)")
        if let syncs = r.intervalSyncs { lines.append("interval export: \(syncs) overwrites of every shop with the truth") }
        let v = r.saleVisibleElsewhereMs
        lines.append(
            "a sale in one shop reached the other shops after \(ms(v.p50)) p50, \(ms(v.p95)) p95, \(ms(v.p99)) p99, "
                + "\(ms(v.max)) max (\(v.count) samples)")
        if let e2e = r.endToEnd { lines.append("end to end, ingest receipt → write applied in each shop: " + e2e.summary) }
        for shop in r.shops {
            let calls = (r.adminCalls[shop] ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
            lines.append("Admin API calls to \(shop): " + calls.joined(separator: ", "))
        }
        for name in r.resources.keys.sorted() {
            let res = r.resources[name]!
            lines.append(String(format: "%@: %.2f s CPU, peak %.0f MiB", name, res.cpuSeconds, res.peakMiB))
        }
        lines.append(consistencyLine(r.consistency))
        return lines.joined(separator: "\n")
    }

    /// Several runs of one drop side by side (mirror mode, the guard, the interval baseline).
    static func modes(_ runs: [ProductDrop.Result]) -> String {
        func name(_ r: ProductDrop.Result) -> String {
            r.mode == "guard" ? "guard ≤\(r.settings.guardThreshold ?? 0)" : r.mode == "event-driven" ? "mirror" : r.mode
        }
        func cell(_ s: String) -> String { String(repeating: " ", count: max(0, 14 - s.count)) + s }
        var lines = ["", "══ Same drop, side by side ══", "".padding(toLength: 22, withPad: " ", startingAt: 0) + runs.map { cell(name($0)) }.joined()]
        func row(_ label: String, _ f: (ProductDrop.Result) -> String) {
            lines.append(label.padding(toLength: 22, withPad: " ", startingAt: 0) + runs.map { cell(f($0)) }.joined())
        }
        row("sold") { "\($0.sold)" }
        row("oversold") { "\($0.oversold)" }
        row("stranded") { "\($0.stranded)" }
        row("refused buyers") { "\($0.refused)" }
        row("sold out after") { $0.secondsToSellOut.map { String(format: "%.1f s", $0) } ?? "not sold out" }
        row("consistency") { $0.consistency.passed ? "passed" : "FAILED" }
        return lines.joined(separator: "\n")
    }
}
