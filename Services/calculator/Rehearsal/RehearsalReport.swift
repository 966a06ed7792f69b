import Contracts
import Foundation

/// What a rehearsal found: the JSON `calculator rehearse --json` writes (`kind` `stockwire.rehearsal`, version 1)
/// and the text it prints. `Tools/charts/stockwire-chart rehearsal` draws it.
struct RehearsalReport: Codable, Sendable {
    struct Input: Codable, Sendable {
        struct NotUsed: Codable, Sendable, Equatable {
            var reason: String
            var count: Int
        }
        var source: String
        var from_ms: Int64
        var to_ms: Int64
        var events_read: Int
        var orders: Int
        var movements: Int
        var shops: [ShopDomain]
        var skus: Int
        var delays_ms: [String: Int64]
        var not_used: [NotUsed]
    }

    var kind = "stockwire.rehearsal"
    var version = 1
    var input: Input
    var policies: [PolicyOutcome]
    var recommendations: [Recommendation]
    /// How long the rehearsal took (ms), for the benchmark.
    var elapsed_ms: Int64 = 0
}

/// What one policy would have done with the day.
struct PolicyOutcome: Codable, Sendable, Equatable {
    struct Sku: Codable, Sendable, Equatable {
        var sku: String
        var units_sold: Int64 = 0
        var units_oversold: Int64 = 0
        var units_lost: Int64 = 0
    }
    struct Point: Codable, Sendable, Equatable {
        var t_ms: Int64
        var units_sold: Int64
        var units_oversold: Int64
        var units_lost: Int64
    }

    var name: String
    var kind: RehearsalPolicy.Kind
    var description: String
    /// Buyers who went to checkout (orders with at least one line of a SKU the warehouse knows).
    var orders_placed = 0
    var orders_accepted = 0
    /// Units of the accepted orders' lines (of known SKUs).
    var units_sold: Int64 = 0
    /// Units sold while the warehouse no longer had them (beyond on hand minus what open orders hold).
    var units_oversold: Int64 = 0
    /// Orders a shop refused (it showed too little) that the warehouse could have filled whole.
    var orders_lost = 0
    var units_lost: Int64 = 0
    /// At the end of the day, once every write landed: units available that no shop's count covered.
    var units_stranded: Int64 = 0
    var worst_skus: [Sku] = []
    var timeline: [Point] = []
}

/// A guard threshold for one SKU that would have kept it from overselling, with the fewest sales lost.
struct Recommendation: Codable, Sendable, Equatable {
    var sku: String
    /// nil: no threshold tried kept it at 0 oversold (see `units_oversold`).
    var threshold: Int64?
    var units_oversold_mirror: Int64
    /// Oversold with the recommended threshold (0 unless none of the tried ones reached 0).
    var units_oversold: Int64
    var units_lost: Int64
}

extension RehearsalReport {
    /// The report for a terminal.
    var text: String {
        var out = "══ Rehearsal ══\n"
        let span = Double(input.to_ms - input.from_ms) / 1000
        out +=
            "\(input.events_read) event(s) read from \(input.source): \(input.orders) order event(s), "
            + "\(input.movements) movement event(s), \(input.shops.count) shop(s), \(input.skus) SKU(s), "
            + String(format: "%.1f s of trading", span) + "\n"
        out +=
            "sync delay: " + input.delays_ms.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value) ms" }.joined(separator: ", ")
            + "\n"
        if input.not_used.isEmpty {
            out += "every event was used\n"
        } else {
            out += "not used:\n"
            for n in input.not_used { out += "  \(n.count) × \(n.reason)\n" }
        }
        out += "\n"
        let header = ["policy", "orders", "accepted", "sold", "oversold", "lost orders", "lost units", "stranded"]
        var rows = [header]
        for p in policies {
            rows.append([
                p.name, "\(p.orders_placed)", "\(p.orders_accepted)", "\(p.units_sold)", "\(p.units_oversold)",
                "\(p.orders_lost)", "\(p.units_lost)", "\(p.units_stranded)",
            ])
        }
        out += Self.table(rows)
        for p in policies { out += "  \(p.name): \(p.description)\n" }
        for p in policies where !p.worst_skus.isEmpty && (p.units_oversold > 0 || p.units_lost > 0) {
            out +=
                "\nworst SKUs under \(p.name) (oversold, lost): "
                + p.worst_skus.prefix(5).map { "\($0.sku) (\($0.units_oversold), \($0.units_lost))" }.joined(separator: ", ")
        }
        if !recommendations.isEmpty {
            out += "\n\nrecommended guard thresholds (set one with `calculator guard <sku> --threshold N`):\n"
            var rows = [["sku", "oversold in mirror", "threshold", "oversold", "lost units"]]
            for r in recommendations.prefix(20) {
                rows.append([
                    r.sku, "\(r.units_oversold_mirror)", r.threshold.map(String.init) ?? "none found", "\(r.units_oversold)",
                    "\(r.units_lost)",
                ])
            }
            out += Self.table(rows)
            if recommendations.count > 20 { out += "  … and \(recommendations.count - 20) more in the JSON report\n" }
        } else {
            out += "\n\nno SKU oversold in mirror mode: no guard threshold to recommend\n"
        }
        return out
    }

    /// Left-aligned first column, right-aligned numbers.
    static func table(_ rows: [[String]]) -> String {
        guard let first = rows.first else { return "" }
        let widths = first.indices.map { c in rows.map { $0[c].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { c, cell in
                let pad = String(repeating: " ", count: widths[c] - cell.count)
                return c == 0 ? cell + pad : pad + cell
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}
