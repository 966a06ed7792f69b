import Contracts
import Foundation

/// The lineage of one SKU's number, for "why does shop B show 3?": the current truth and the versions that led
/// to it, each with the events that caused it. `calculator explain <sku>` prints it; the ops server serves it as
/// JSON at `/explain/<sku>`.
///
/// Per shop, the last value an exporter wrote, when, and how long after the version's first cause, from the
/// exporters' write reports (best effort: a lost report leaves an older line here).
struct SkuExplanation: Sendable, Codable, Equatable {
    /// One event that caused a version.
    struct Cause: Sendable, Codable, Equatable {
        /// The event's message id (`<shop>/<webhook id>` or `warehouse/<movement id>`).
        var messageId: String
        /// The shop whose webhook it was, nil for warehouse movements.
        var shop: String?
        /// When ingest received it (ms since 1970); nil once its dedupe row was purged.
        var receivedAtMillis: Int64?

        enum CodingKeys: String, CodingKey {
            case messageId = "message_id", shop, receivedAtMillis = "received_at_ms"
        }
    }

    /// One committed version of the SKU.
    struct Version: Sendable, Codable, Equatable {
        var version: Int64
        var available: Int64
        var onHand: Int64
        var reserved: Int64
        /// The events of the batch that moved the SKU to this version.
        var causes: [Cause]
        /// Net units reserved by each shop's own orders in this change (positive: sold there).
        var shopQuantities: [String: Int64]
        /// When ingest received the first cause (ms since 1970).
        var firstReceivedAtMillis: Int64?
        /// When the calculator committed this version (ms since 1970).
        var computedAtMillis: Int64

        enum CodingKeys: String, CodingKey {
            case version, available, onHand = "on_hand", reserved, causes, shopQuantities = "shop_quantities"
            case firstReceivedAtMillis = "first_received_at_ms", computedAtMillis = "computed_at_ms"
        }
    }

    /// The last write into one shop.
    struct ShopWrite: Sendable, Codable, Equatable {
        var shop: ShopDomain
        var version: Int64
        var value: Int64
        var writtenAtMillis: Int64
        var firstReceivedAtMillis: Int64?

        /// From the version's first cause reaching ingest to Shopify acknowledging the write.
        var latencyMillis: Int64? { firstReceivedAtMillis.map { writtenAtMillis - $0 } }

        enum CodingKeys: String, CodingKey {
            case shop, version, value, writtenAtMillis = "written_at_ms", firstReceivedAtMillis = "first_received_at_ms"
        }
    }

    /// One warehouse's physical units.
    struct Level: Sendable, Codable, Equatable {
        var warehouse: String
        var onHand: Int64
        var forSale: Bool

        enum CodingKeys: String, CodingKey { case warehouse, onHand = "on_hand", forSale = "for_sale" }
    }

    var sku: String
    var available: Int64
    var onHand: Int64
    var reserved: Int64
    var safetyStock: Int64
    var version: Int64
    var levels: [Level]
    /// Open order lines holding the SKU: "shop/order/line" → units.
    var openLines: [String: Int64]
    /// The newest versions first.
    var history: [Version]
    /// What each shop was last written.
    var shops: [ShopWrite] = []
    /// The zero-oversell guard threshold that applies (0: never guarded).
    var guardThreshold: Int64 = 0
    /// While guarded: each shop's share and why; empty in mirror mode.
    var shares: [GuardShare] = []

    /// One shop's share under the zero-oversell guard.
    struct GuardShare: Sendable, Codable, Equatable {
        var shop: ShopDomain
        /// What the shop is told to show.
        var share: Int64
        /// Units the shop may still sell (plus its sales the truth has not seen), at most; nil until its exporter
        /// confirmed a write since the guard began.
        var granted: Int64?
        var soldSinceGuard: Int64
        var reason: String

        enum CodingKeys: String, CodingKey { case shop, share, granted, soldSinceGuard = "sold_since_guard", reason }
    }

    enum CodingKeys: String, CodingKey {
        case sku, available, onHand = "on_hand", reserved, safetyStock = "safety_stock", version, levels
        case openLines = "open_lines", history, shops, guardThreshold = "guard_threshold", shares
    }

    /// `shop=units` pairs, sorted, space-separated: how ``sku_history.origins`` stores them.
    static func encodeOrigins(_ origins: [String: Int64]?) -> String {
        (origins ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }

    /// Reads ``encodeOrigins(_:)``'s text back.
    static func decodeOrigins(_ text: String) -> [String: Int64] {
        var out: [String: Int64] = [:]
        for pair in text.split(separator: " ") {
            guard let eq = pair.lastIndex(of: "="), let units = Int64(pair[pair.index(after: eq)...]) else { continue }
            out[String(pair[..<eq])] = units
        }
        return out
    }

    /// The shop of a cause's message id (`<shop>/<webhook id>`), nil for `warehouse/…`.
    static func shop(ofMessageId id: String) -> String? {
        guard let slash = id.firstIndex(of: "/") else { return nil }
        let prefix = String(id[..<slash])
        return prefix == "warehouse" ? nil : prefix
    }

    /// As text for a terminal.
    func rendered() -> String {
        var out = """
            sku:          \(sku)
            available:    \(available)   (on_hand \(onHand) − reserved \(reserved) − safety_stock \(safetyStock))
            version:      \(version)

            """
        for level in levels {
            out += "  warehouse \(level.warehouse): \(level.onHand)\(level.forSale ? "" : "  (not for sale)")\n"
        }
        if !openLines.isEmpty {
            out += "open order lines (shop/order/line: units):\n"
            for (line, units) in openLines.sorted(by: { $0.key < $1.key }) { out += "  \(line): \(units)\n" }
        }
        if !shares.isEmpty {
            out += "zero-oversell guard: on (threshold \(guardThreshold)); shares never add up to more than available\n"
            for s in shares {
                let claim = s.granted.map { "may still sell \($0)" } ?? "not yet confirmed by its exporter"
                out += "  \(s.shop): share \(s.share) (\(claim); sold \(s.soldSinceGuard) since the guard began) — \(s.reason)\n"
            }
        } else if guardThreshold > 0 {
            out += "zero-oversell guard: off (mirror mode above the threshold \(guardThreshold))\n"
        }
        if shops.isEmpty {
            out += "shops: no write reported yet\n"
        } else {
            out += "shops (last write):\n"
            for w in shops {
                let latency = w.latencyMillis.map { ", \($0) ms after the first cause" } ?? ""
                out += "  \(w.shop): \(w.value) (v\(w.version)) written \(Self.time(w.writtenAtMillis))\(latency)\n"
            }
        }
        guard !history.isEmpty else { return out + "history: none kept (older than the retention, or never changed)\n" }
        out += "\nhistory, newest first:\n"
        for v in history {
            let latency = v.firstReceivedAtMillis.map { " \(v.computedAtMillis - $0) ms after the first cause" } ?? ""
            out += "  v\(v.version)  available \(v.available) (on_hand \(v.onHand), reserved \(v.reserved))  "
            out += "committed \(Self.time(v.computedAtMillis))\(latency)\n"
            for (shop, units) in v.shopQuantities.sorted(by: { $0.key < $1.key }) {
                out += "      \(units >= 0 ? "sold" : "released") \(abs(units)) in \(shop)\n"
            }
            for cause in v.causes {
                let received = cause.receivedAtMillis.map { "received \(Self.time($0))" } ?? "received ?"
                out += "      cause \(cause.messageId)  \(cause.shop ?? "warehouse")  \(received)\n"
            }
        }
        return out
    }

    private static func time(_ millis: Int64) -> String {
        Date(timeIntervalSince1970: TimeInterval(millis) / 1000).formatted(
            Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
