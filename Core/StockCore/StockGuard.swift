import Contracts
import Foundation

/// The zero-oversell guard of one SKU: at low stock every shop gets a share, and the shares never let the shops
/// together sell more than the truth holds, however late webhooks and writes are.
///
/// ## Why mirror mode oversells
/// Showing every shop the same available quantity leaves a window: with 1 unit left, every shop shows 1 and each can
/// sell it before the others hear of it. Shopify's checkout lowers a shop's own count atomically, so if the counts
/// shown in all shops never add up to more than the real stock, overselling is impossible whatever the delay.
///
/// ## The invariant
/// Per shop `i` the guard keeps `granted[i]`: an upper bound of `P[i] + U[i]`, where `P[i]` is what shop `i` can still
/// sell (the count Shopify shows) and `U[i]` its net sales the truth has not seen yet. Unknown sales lower the real
/// stock and `P[i]` by the same amount, so `Σ P ≤ real stock` holds exactly when `Σ (P + U) ≤ available` as the truth
/// knows it. The guard keeps **`Σ granted ≤ available`**:
/// - a sale the truth learns (`d` net units of shop `i`'s own orders; negative for a cancellation, an edit down or a
///   refund, which Shopify restocks in that shop) lowers `U[i]`, so `granted[i] −= d`; the available falls by `d`;
/// - a share is only ever raised out of `free = available − Σ granted`, and the raise is added to `granted` at once,
///   before any exporter writes it;
/// - lowering a share does not lower `granted`: the shop may already have sold those units, or may show an older,
///   higher value still. Only an exporter's report that Shopify accepted a compare-and-set write lowers it
///   (``confirm(shop:version:value:heldBack:soldTotal:)``): after writing `w` while holding back `h` units it saw
///   sold but the truth had not, `P + U = w + h − (net sales the truth learned since)`.
/// - Entering the guard, what each shop may show is unknown (a mirror value, maybe an older one still on its way):
///   `granted` is unknown, so nothing is raised until every shop confirmed its first share.
/// Receipts raise the available, so they free units; nothing else adds to `Σ granted`.
///
/// ## The policy
/// Shares follow demand (each shop's sales, decaying with a half-life); every shop with demand keeps at least one
/// unit while there are enough units; a shop holding more than its part that sold nothing for `rebalanceAfter` gives
/// the surplus back (its share is lowered, and once its exporter confirmed the lower count the units go to the
/// shops that sell). Above `2 × threshold` the SKU returns to mirror mode.
package struct StockGuard: Sendable, Equatable {
    /// What the guard knows of one shop.
    package struct Shop: Sendable, Equatable {
        /// What the shop is told to show.
        package var share: Int64 = 0
        /// Upper bound of what the shop can still sell plus its sales the truth has not seen (less its restocks the
        /// truth has not seen: it can be negative); nil until confirmed.
        package var granted: Int64?
        /// Net units the shop's own orders took since the guard was entered (as the truth learned them).
        package var soldTotal: Int64 = 0
        /// The version of the last raise of `share`: a confirmation of an older write says nothing about it.
        package var raisedAtVersion: Int64 = 0
        /// Sales, decaying (half-life ``Settings/demandHalfLifeMillis``), as of `demandAtMillis`.
        package var demand: Double = 0
        package var demandAtMillis: Int64 = 0
        /// When the shop last sold (or got its share), for re-balancing.
        package var lastActivityAtMillis: Int64 = 0
        /// Why the share is what it is, for `explain`.
        package var reason: String = ""

        /// Memberwise (explicit: the type is used outside its module).
        package init(
            share: Int64 = 0, granted: Int64? = nil, soldTotal: Int64 = 0, raisedAtVersion: Int64 = 0, demand: Double = 0,
            demandAtMillis: Int64 = 0, lastActivityAtMillis: Int64 = 0, reason: String = ""
        ) {
            self.share = share
            self.granted = granted
            self.soldTotal = soldTotal
            self.raisedAtVersion = raisedAtVersion
            self.demand = demand
            self.demandAtMillis = demandAtMillis
            self.lastActivityAtMillis = lastActivityAtMillis
            self.reason = reason
        }
    }

    /// How the guard behaves.
    package struct Settings: Sendable, Equatable {
        /// At or below this available quantity the SKU is guarded; 0 = never.
        package var threshold: Int64 = 0
        /// Shops that sell the SKU (the guard gives each a share).
        package var shops: [ShopDomain] = []
        /// A shop that sold nothing for this long gives back what it holds beyond its part.
        package var rebalanceAfterMillis: Int64 = 10_000
        /// Half-life of a shop's demand.
        package var demandHalfLifeMillis: Int64 = 60_000

        /// Memberwise (explicit: the type is used outside its module).
        package init(
            threshold: Int64 = 0, shops: [ShopDomain] = [], rebalanceAfterMillis: Int64 = 10_000,
            demandHalfLifeMillis: Int64 = 60_000
        ) {
            self.threshold = threshold
            self.shops = shops
            self.rebalanceAfterMillis = rebalanceAfterMillis
            self.demandHalfLifeMillis = demandHalfLifeMillis
        }
    }

    /// Whether the SKU is guarded now (false: mirror mode, every shop shows the available quantity).
    package var active = false
    package var shops: [ShopDomain: Shop] = [:]

    // MARK: - Events

    /// The truth learned `net` units of shop `shop`'s own orders (negative: units came back to it) in the change
    /// that becomes `version`.
    package mutating func ownChange(shop: ShopDomain, net: Int64, version: Int64, now: Int64, settings: Settings) {
        guard active, net != 0 else { return }
        var s = shops[shop] ?? Shop()
        s.soldTotal += net
        // Not clamped at 0: a shop whose restocks the truth has not seen yet can be below (its claim grows back when
        // they arrive).
        s.granted = s.granted.map { $0 - net }
        if net > 0 {
            s.share = max(0, s.share - net)
        } else if let g = s.granted, g > s.share {
            // Units came back to the shop (Shopify restocked them there): it may show them, within its claim.
            s.share = min(s.share - net, g)
            s.raisedAtVersion = version
        }
        if net > 0 {
            s.demand = Self.decayed(s, now: now, settings: settings) + Double(net)
            s.demandAtMillis = now
            s.lastActivityAtMillis = now
        }
        shops[shop] = s
    }

    /// An exporter reports that Shopify accepted writing `value` for `version` into `shop`, while it held back
    /// `heldBack` units the shop had sold and the truth had not seen, and that version said the shop's own orders
    /// had taken `soldTotal`. Returns whether `granted` fell (units may have been freed).
    @discardableResult
    package mutating func confirm(shop: ShopDomain, version: Int64, value: Int64, heldBack: Int64, soldTotal: Int64) -> Bool {
        guard active, var s = shops[shop], version >= s.raisedAtVersion else { return false }
        let bound = value + heldBack - (s.soldTotal - soldTotal)
        guard bound < s.granted ?? .max else { return false }
        s.granted = bound
        shops[shop] = s
        return true
    }

    /// No shop's share above its claim: a write of `share` makes the shop's claim at most `share` (the exporter
    /// holds back what it saw sold), so a share above the claim would grow it behind the guard's back.
    private mutating func fitSharesToClaims() {
        for (shop, s) in shops {
            guard let g = s.granted, s.share > max(0, g) else { continue }
            shops[shop]!.share = max(0, g)
            shops[shop]!.reason = "lowered to what the shop may still sell (\(max(0, g)))"
        }
    }

    // MARK: - Allocation

    /// Units no shop holds a claim on.
    package func free(available: Int64) -> Int64 {
        var claimed: Int64 = 0
        for s in shops.values {
            guard let g = s.granted else { return 0 }
            claimed += g
        }
        return max(0, available - claimed)
    }

    /// Brings the guard in line with `available` at `version`; returns whether any shop's share (or the mode)
    /// changed, so that a new availability message must go out.
    package mutating func allocate(available: Int64, version: Int64, now: Int64, settings: Settings) -> Bool {
        let before = self
        for shop in settings.shops where shops[shop] == nil && active {
            shops[shop] = Shop(raisedAtVersion: version, lastActivityAtMillis: now, reason: "new shop")
        }
        if !active {
            guard settings.threshold > 0, available <= settings.threshold, !settings.shops.isEmpty else { return false }
            active = true
            shops = [:]
            for shop in settings.shops {
                // What the shop shows is unknown until its exporter confirms the first share.
                shops[shop] = Shop(
                    raisedAtVersion: version, demandAtMillis: now, lastActivityAtMillis: now, reason: "guard entered")
            }
            let parts = Self.parts(of: available, weights: settings.shops.map { ($0, 1.0) })
            for (shop, part) in parts { shops[shop]!.share = part }
            return true
        } else if settings.threshold == 0 || available > 2 * settings.threshold {
            self = StockGuard()
            return true
        }
        fitSharesToClaims()
        // Demand that decayed below a tenth of a sale counts as none: such a shop keeps no unit for itself.
        let weights = shops.keys.sorted().map { shop in
            let d = Self.decayed(shops[shop]!, now: now, settings: settings)
            return (shop, d < 0.1 ? 0 : d)
        }
        let parts = Self.parts(of: available, weights: weights)
        // The truth fell without a sale (a shipment nothing reserved, a stocktake, a correction): the shares must
        // fit again at once, taken first from the shops holding most beyond their part.
        var excess = shops.values.reduce(0) { $0 + $1.share } - available
        if excess > 0 {
            for (shop, part) in parts.sorted(by: { (shops[$0.0]!.share - $0.1, $1.0) > (shops[$1.0]!.share - $1.1, $0.0) }) {
                guard excess > 0 else { break }
                let cut = min(excess, shops[shop]!.share - min(part, shops[shop]!.share))
                guard cut > 0 else { continue }
                shops[shop]!.share -= cut
                shops[shop]!.reason = "lowered by \(cut): the stock fell outside the shops"
                excess -= cut
            }
            for shop in shops.keys.sorted() where excess > 0 {
                let cut = min(excess, shops[shop]!.share)
                shops[shop]!.share -= cut
                if cut > 0 { shops[shop]!.reason = "lowered by \(cut): the stock fell outside the shops" }
                excess -= cut
            }
        }
        // Give back: an idle shop holding more than its part.
        for (shop, part) in parts {
            var s = shops[shop]!
            if s.share > part, now - s.lastActivityAtMillis >= settings.rebalanceAfterMillis {
                s.share = part
                s.reason = "idle for \(settings.rebalanceAfterMillis / 1000) s: surplus given back"
                shops[shop] = s
            }
        }
        // Raise, the largest shortfall first: out of the shop's own claim it does not show yet, then out of free
        // units (added to its claim at once). The shares never add up to more than the available quantity.
        var free = free(available: available)
        var room = available - shops.values.reduce(0) { $0 + $1.share }
        for (shop, part) in parts.sorted(by: { ($0.1 - shops[$0.0]!.share, $1.0) > ($1.1 - shops[$1.0]!.share, $0.0) }) {
            var s = shops[shop]!
            guard let granted = s.granted, room > 0 else { continue }
            let own = max(0, granted - s.share)
            let raise = min(part - s.share, own + free, room)
            guard raise > 0 else { continue }
            let fromFree = max(0, raise - own)
            s.share += raise
            s.granted = granted + fromFree
            s.raisedAtVersion = version
            s.lastActivityAtMillis = max(s.lastActivityAtMillis, now)
            s.reason = "raised by \(raise) (demand \(Int(Self.decayed(s, now: now, settings: settings).rounded())))"
            free -= fromFree
            room -= raise
            shops[shop] = s
        }
        return shops.mapValues(\.share) != before.shops.mapValues(\.share)
    }

    /// The shares every shop is told, or nil in mirror mode.
    package var shares: [ShopDomain: Int64]? { active ? shops.mapValues(\.share) : nil }

    /// Each shop's net sold units since the guard was entered, or nil in mirror mode.
    package var soldTotals: [ShopDomain: Int64]? { active ? shops.mapValues(\.soldTotal) : nil }

    // MARK: - Arithmetic

    /// `units` split by `weights` (largest remainder), every shop with weight > 0 getting at least 1 while units
    /// last; all weights 0 → equal split.
    package static func parts<Key: Hashable & Comparable>(of units: Int64, weights: [(Key, Double)]) -> [(Key, Int64)] {
        guard !weights.isEmpty else { return [] }
        let total = weights.reduce(0) { $0 + $1.1 }
        let w = total > 0 ? weights : weights.map { ($0.0, 1.0) }
        let sum = total > 0 ? total : Double(weights.count)
        var result = Dictionary(uniqueKeysWithValues: w.map { ($0.0, Int64(0)) })
        var left = max(0, units)
        // At least one unit each for shops with demand, most demand first.
        for (shop, weight) in w.sorted(by: { ($0.1, $1.0) > ($1.1, $0.0) }) where weight > 0 && left > 0 {
            result[shop] = 1
            left -= 1
        }
        let rest = left
        var fractions: [(Key, Double)] = []
        for (shop, weight) in w {
            let exact = Double(rest) * weight / sum
            let whole = Int64(exact.rounded(.down))
            result[shop]! += whole
            left -= whole
            fractions.append((shop, exact - Double(whole)))
        }
        for (shop, _) in fractions.sorted(by: { ($0.1, $1.0) > ($1.1, $0.0) }) where left > 0 {
            result[shop]! += 1
            left -= 1
        }
        return w.map { ($0.0, result[$0.0]!) }
    }

    package static func decayed(_ s: Shop, now: Int64, settings: Settings) -> Double {
        guard s.demand > 0, now > s.demandAtMillis else { return s.demand }
        let halfLives = Double(now - s.demandAtMillis) / Double(max(1, settings.demandHalfLifeMillis))
        return s.demand * Foundation.exp2(-halfLives)
    }

    /// Memberwise (explicit: the type is used outside its module).
    package init(active: Bool = false, shops: [ShopDomain: Shop] = [:]) {
        self.active = active
        self.shops = shops
    }
}
