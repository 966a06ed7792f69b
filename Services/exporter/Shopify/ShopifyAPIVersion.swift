import Foundation

/// A pinned Shopify Admin API version, `YYYY-MM`.
///
/// Shopify releases a stable version every quarter (January, April, July, October) and supports each for at least
/// 12 months; a request to a version past its support is answered by the oldest supported one instead
/// (https://shopify.dev/docs/api/usage/versioning). Stockwire needs 2026-04 or later: from that version on,
/// `inventorySetQuantities` takes `@idempotent(key:)` and requires `changeFromQuantity`, the compare-and-set every
/// write relies on (https://shopify.dev/changelog/finalizing-compare-and-swap-redesign-for-inventory-set-quantities).
/// Below it every write is refused, and the shop would never be synced.
struct ShopifyAPIVersion: Sendable, Equatable, Comparable, CustomStringConvertible {
    let year: Int
    let month: Int

    /// The oldest version Stockwire's writes work with.
    static let minimum = ShopifyAPIVersion(year: 2026, month: 4)
    /// The version a shop is pinned to unless the shops file says otherwise.
    static let pinned = ShopifyAPIVersion(year: 2026, month: 10)
    /// How long before the end of a version's support its users are warned.
    static let warnBefore: TimeInterval = 90 * 86_400

    init(year: Int, month: Int) {
        self.year = year
        self.month = month
    }

    /// Reads `YYYY-MM` of a quarterly release; nil for anything else (`unstable`, a typo, a month with no release).
    init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 4, parts[1].count == 2, let year = Int(parts[0]),
            let month = Int(parts[1]), [1, 4, 7, 10].contains(month)
        else { return nil }
        self.init(year: year, month: month)
    }

    var description: String { String(format: "%04d-%02d", year, month) }

    static func < (a: Self, b: Self) -> Bool { (a.year, a.month) < (b.year, b.month) }

    /// The first day Shopify no longer promises to serve it: its release plus 12 months (UTC).
    var supportEnds: Date {
        var c = DateComponents()
        c.year = year + 1
        c.month = month
        c.day = 1
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar.date(from: c)!
    }

    /// Why `text` cannot be used for `shop`, naming the fix; nil when it can.
    static func problem(_ text: String, shop: String) -> String? {
        guard let version = ShopifyAPIVersion(text) else {
            return "shop \(shop): api_version '\(text)' is not a stable Shopify Admin API version (YYYY-MM of a quarterly "
                + "release, e.g. \"\(pinned)\"; 'unstable' changes without notice)"
        }
        guard version >= minimum else {
            return "shop \(shop): api_version \(version) is older than \(minimum), the first with compare-and-set "
                + "inventory writes (changeFromQuantity, @idempotent) that Stockwire relies on: every write would be "
                + "refused. Set \"api_version\": \"\(pinned)\" in the shops file"
        }
        return nil
    }

    /// A warning when the version's support ends within ``warnBefore`` of `now`, or has ended; nil otherwise.
    func supportWarning(shop: String, now: Date) -> String? {
        let ends = supportEnds
        let day = Date.ISO8601FormatStyle().year().month().day()
        if now >= ends {
            return "shop \(shop): Admin API version \(self) is past its support (ended \(ends.formatted(day))); Shopify "
                + "answers with the oldest supported version instead. Pin a newer version in the shops file"
        }
        guard ends.timeIntervalSince(now) <= Self.warnBefore else { return nil }
        return "shop \(shop): Admin API version \(self) is supported until \(ends.formatted(day)); pin a newer version "
            + "in the shops file before then"
    }
}
