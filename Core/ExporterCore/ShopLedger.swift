/// What the exporter knows about one shop's inventory levels, and the rule that keeps it from giving back a unit
/// the shop sold but Stockwire has not seen yet.
///
/// ## The race
/// Shopify lowers a shop's `available` the moment a customer checks out, before the `orders/create` webhook
/// reaches Stockwire. A blind write of the (not yet updated) truth would hand that unit back, and it could be sold
/// twice.
///
/// ## The algorithm
/// For every inventory item the ledger keeps `believed` (the level we think the shop holds) and `unseen` (units
/// the shop lost that the truth does not reflect yet).
/// 1. Every write is a compare-and-set: `quantity = max(0, target − unseen)` with
///    `changeFromQuantity = believed`. On success, `believed = quantity`.
/// 2. When an availability message says the change came from this shop's own order of `q` units (`origin_shop`),
///    that sale is now in the truth: first it cancels discovered-but-unexplained loss (`unseen −= min(unseen, q)`);
///    the rest (`fresh`) is a sale Shopify already subtracted that we had not noticed, so `believed −= fresh`.
///    2b. Units the shop's own orders gave back in that change (a cancellation, an edit down, a refund: the net is
///    below the gross sales) were restocked by Shopify in that shop: `believed += restocked`. Without this a sale
///    and a restock the truth has not both seen cancel out in the value (ABA) and a compare-and-set from the old
///    belief succeeds over an unseen sale. When Shopify did not restock (a cancellation with "restock" unticked),
///    the belief is too high: the next write gets a stale answer, and the read counts the difference as unseen loss
///    — held back for a while, the safe direction. A restock a read showed before it was announced (step 3:
///    `A > believed`) is kept as `gained` and used up by the announcement, so it is not added twice.
/// 3. When Shopify answers `CHANGE_FROM_QUANTITY_STALE`, we read the actual level `A`. If `A < believed`, the shop
///    lost `believed − A` units we have not seen (a sale whose webhook is still on its way, or an edit in the
///    admin): `unseen += believed − A`. If `A > believed`, units came back (a restock we will hear of, or an edit):
///    `gained += A − believed`, nothing is held back. Either way `believed = A`, and the write is retried.
/// 4. Unexplained loss expires after ``unseenTTL`` (an admin edit never comes back as an order); reconciliation
///    covers what is left.
/// 5. A sale announced while a write of the item is in flight (step 2 during the write) happened after that write
///    took effect, or the compare-and-set fails: if the write succeeds, the shop holds the written quantity *less*
///    those units, not the written quantity.
///
/// Sales are counted gross (`origin_sold`) and restocks separately (step 2b), so a sale and a cancellation in one
/// change both reach the belief.
///
/// 6. A write is skipped only when the shop is known to hold the quantity already: the belief was *confirmed* (by
///    a read, or by a write during which nothing of the shop's own was announced), and since then only sales of
///    the shop were announced outside writes (step 2 then follows Shopify exactly: the shop held `believed` and
///    took the sale off it; an extra sale not announced yet only leaves the shop lower, and its announcement
///    lowers the belief too). A belief derived during a write (step 5) or from a restock (step 2b) is a guess: a
///    sale and a restock in the same shop cancel out in the value (ABA), so a compare-and-set can succeed over a
///    sale it did not know of, and Shopify may not have restocked. Skipping on such a guess left that shop a unit
///    above or below the truth for good; writing costs at most one stale answer and one read, and puts the truth
///    back. Likewise after a *cold* read (the first since the exporter started, or since a resync forgot the
///    belief): the level read may already lack sales whose orders the truth has not seen, so when they are
///    announced they are not "sales after the belief" and the belief derived from them is a guess; restocks
///    announced then are not added (the read may hold them already). Skipping on such a guess after an exporter
///    restart left shops units above the truth for good, adding such a restock held units back
///    (`stockwire-scenario faults --fault kill-exporter`). Nothing in an announcement says when the change happened
///    at Shopify, and a later read does not sort it out either (the level read then holds that restock as much as
///    the cold read did), so the item stays cold for ``coldWindow`` after its cold read — as long as a webhook is
///    expected to take — and no longer only until its next read: a restock before the cold read announced after
///    that next read was added, and the read after counted the unit as lost, held back for good
///    (`ShopLedgerModelTests`). A restock left out only costs a stale answer and a read.
///
/// 7. A read is not atomic with the announcements the way a compare-and-set write is: a sale announced while a read
///    is in flight may or may not be in the level read (the checkout may come just before or just after Shopify read
///    the level). Taken as in the level when it was not, the belief is a unit too high, and the next stale answer's
///    read counts the sale again as unseen loss: a unit held back from the shop for ``unseenTTL`` although the truth
///    has it (seen: the exporter read 109, a checkout followed 15 ms later and was announced during the read, the
///    answer set the belief back to 109, and the shop was written 107 − 1, then 102 − 1). So a read during which
///    a change of the shop's own was announced is read again (``readAnswered(item:actual:now:final:)``); when it
///    has to be taken (the item sells on every read), every sale announced meanwhile is taken as after the read and
///    every restock as before it, and the item is cold (step 6): the belief errs low, which costs a stale answer and
///    never holds a unit back.
///
/// The ledger errs on the safe side: a wrong `believed` costs one stale answer and one read, and a loss that is
/// counted twice under-reports a shop for a while (stranded stock), never over-reports it (oversold stock).
package struct ShopLedger {
    /// An item's state.
    package struct Item: Equatable {
        /// The level we believe the shop holds; nil until a write or a read told us.
        package var believed: Int64?
        /// Whether `believed` is what Shopify last told us (a read, or a write nothing was sold during), not derived.
        package var confirmed = false
        /// Units lost in the shop that the truth does not show yet.
        package var unseen: Int64 = 0
        /// Units that came back in the shop (a read showed more than believed) that no announced restock explains
        /// yet; an announced restock first uses these up (step 2b), so a restock seen early is not counted twice.
        package var gained: Int64 = 0
        /// When `unseen` last grew.
        package var unseenSince: ContinuousClock.Instant?
        /// Whether a write of the item is on its way to Shopify.
        package var writing = false
        /// Sales (step 2) announced while that write was in flight (step 5).
        package var soldDuringWrite: Int64 = 0
        /// Whether any change of the shop's own was announced while that write was in flight (step 6).
        package var ownChangeDuringWrite = false
        /// Whether the belief goes back to a read made without one (step 6): announced sales may predate it.
        package var cold = false
        /// Until when announcements may still describe changes older than the cold read (step 6).
        package var coldUntil: ContinuousClock.Instant?
        /// Restocks announced while cold and left out of the belief: a read that shows the level above the belief
        /// counts them first, so they are not taken as units gained that a later restock announcement would use up.
        package var skippedRestock: Int64 = 0
        /// Whether a read of the item is on its way to Shopify (step 7).
        package var reading = false
        /// Sales (step 2) announced while that read was in flight, not explained by unseen loss.
        package var soldDuringRead: Int64 = 0
        /// Whether any change of the shop's own was announced while that read was in flight.
        package var ownChangeDuringRead = false

        /// The write in flight ended (applied or not).
        package mutating func endWrite() {
            writing = false
            soldDuringWrite = 0
            ownChangeDuringWrite = false
        }

        /// The read in flight ended (answered, failed, or to be read again).
        package mutating func endRead() {
            reading = false
            soldDuringRead = 0
            ownChangeDuringRead = false
        }

        /// Memberwise (explicit: the type is used outside its module).
        package init(
            believed: Int64? = nil, confirmed: Bool = false, unseen: Int64 = 0, gained: Int64 = 0,
            unseenSince: ContinuousClock.Instant? = nil, writing: Bool = false, soldDuringWrite: Int64 = 0,
            ownChangeDuringWrite: Bool = false, cold: Bool = false, coldUntil: ContinuousClock.Instant? = nil,
            skippedRestock: Int64 = 0, reading: Bool = false, soldDuringRead: Int64 = 0, ownChangeDuringRead: Bool = false
        ) {
            self.believed = believed
            self.confirmed = confirmed
            self.unseen = unseen
            self.gained = gained
            self.unseenSince = unseenSince
            self.writing = writing
            self.soldDuringWrite = soldDuringWrite
            self.ownChangeDuringWrite = ownChangeDuringWrite
            self.cold = cold
            self.coldUntil = coldUntil
            self.skippedRestock = skippedRestock
            self.reading = reading
            self.soldDuringRead = soldDuringRead
            self.ownChangeDuringRead = ownChangeDuringRead
        }
    }

    /// How long unexplained loss is kept back.
    package let unseenTTL: Duration
    /// How long after a cold read announced changes may predate it (step 6): Shopify delivers most webhooks within
    /// seconds; later ones come after an outage, and a belief that errs on them costs a stale answer.
    package let coldWindow: Duration
    package private(set) var items: [String: Item] = [:]

    /// Creates an empty ledger.
    package init(unseenTTL: Duration = .seconds(900), coldWindow: Duration = .seconds(300)) {
        self.unseenTTL = unseenTTL
        self.coldWindow = coldWindow
    }

    /// The state of an item.
    package func item(_ id: String) -> Item { items[id] ?? Item() }

    /// The quantity to write for `target`, and the `changeFromQuantity` to send with it (nil when unknown: read first).
    package mutating func plan(item id: String, target: Int64, now: ContinuousClock.Instant) -> (
        quantity: Int64, changeFrom: Int64?
    ) {
        var state = item(id)
        if let since = state.unseenSince, now - since > unseenTTL {
            state.unseen = 0
            state.gained = 0
            state.unseenSince = nil
            items[id] = state
        }
        return (max(0, target - state.unseen), state.believed)
    }

    /// Whether the shop is known to hold `quantity` already, so that no write is needed (step 6).
    package func holds(item id: String, quantity: Int64) -> Bool {
        guard let state = items[id] else { return false }
        return state.confirmed && state.believed == quantity
    }

    /// A write of these items is being sent.
    package mutating func beginWrite(items ids: [String]) {
        for id in ids {
            items[id, default: Item()].endWrite()
            items[id]!.writing = true
        }
    }

    /// The write did not take effect (refused, stale, or not answered): what we believe stays as it was.
    package mutating func writeFailed(items ids: [String]) {
        for id in ids { items[id]?.endWrite() }
    }

    /// A write was applied: the shop now holds `quantity`, less the sales announced meanwhile (step 5).
    package mutating func wrote(item id: String, quantity: Int64) {
        var state = item(id)
        let soldMeanwhile = state.writing ? state.soldDuringWrite : 0
        state.believed = quantity - soldMeanwhile
        state.confirmed = !(state.writing && state.ownChangeDuringWrite)
        state.endWrite()
        items[id] = state
    }

    /// The shop's own order of `quantity` units is now part of the truth (step 2).
    package mutating func ownSale(item id: String, quantity: Int64) {
        var state = item(id)
        let explained = min(state.unseen, quantity)
        state.unseen -= explained
        if state.unseen == 0 { state.unseenSince = nil }
        let fresh = quantity - explained
        if fresh > 0, let believed = state.believed { state.believed = believed - fresh }
        if fresh > 0, state.cold { state.confirmed = false }
        if fresh > 0, state.writing {
            state.soldDuringWrite += fresh
            state.ownChangeDuringWrite = true
        }
        if fresh > 0, state.reading {
            state.soldDuringRead += fresh
            state.ownChangeDuringRead = true
        }
        items[id] = state
    }

    /// The shop's own orders gave back `quantity` units that Shopify restocked in the shop (step 2b).
    package mutating func ownRestock(item id: String, quantity: Int64) {
        guard quantity > 0, var state = items[id] else { return }
        let explained = min(state.gained, quantity)
        state.gained -= explained
        // After a cold read the restock may be in the level read already: adding it again would make the next read
        // look like a lost unit, held back from the shop (step 6); left out, the belief is at worst low, which the
        // next write's stale answer and read set right without holding anything back.
        if let believed = state.believed, !state.cold { state.believed = believed + quantity - explained }
        if state.cold { state.skippedRestock += quantity - explained }
        if state.writing {
            // The same holds for a write planned on a cold read: the level it compared against may hold the restock
            // already, and adding it to what the write leaves made the next read count a unit lost that was not
            // (found by `ShopLedgerModelTests`: a restock before the cold read, announced while the write was on
            // its way, held a unit back from the shop for good).
            if !state.cold { state.soldDuringWrite -= quantity - explained }
            state.ownChangeDuringWrite = true
        }
        if state.reading { state.ownChangeDuringRead = true }
        state.confirmed = false
        items[id] = state
    }

    /// A read of these items is being sent (step 7).
    package mutating func beginRead(items ids: [String]) {
        for id in ids {
            items[id, default: Item()].endRead()
            items[id]!.reading = true
        }
    }

    /// The read did not answer: nothing changes but that it is no longer in flight.
    package mutating func readFailed(items ids: [String]) {
        for id in ids { items[id]?.endRead() }
    }

    /// The answer of a read begun with ``beginRead(items:)`` (step 7): applied, and true, unless a change of the
    /// shop's own was announced while it was in flight and `final` is false: then nothing is applied, and the
    /// item is to be read again. A `final` ambiguous answer is applied with the belief erring low.
    package mutating func readAnswered(item id: String, actual: Int64, now: ContinuousClock.Instant, final: Bool) -> Bool {
        var state = item(id)
        guard state.reading, state.ownChangeDuringRead else {
            observed(item: id, actual: actual, now: now)
            return true
        }
        guard final else {
            state.endRead()
            items[id] = state
            return false
        }
        // Sales announced meanwhile already lowered the belief: compare with it as it stands (they are taken as in
        // the level read, so no loss is counted twice), but believe the level less those sales (taken as after it).
        let sold = state.soldDuringRead
        observed(item: id, actual: actual, now: now)
        items[id]!.believed = actual - sold
        items[id]!.cold = true
        items[id]!.confirmed = false
        return true
    }

    /// The actual level was read (after a stale answer, or before the first write) (step 3).
    package mutating func observed(item id: String, actual: Int64, now: ContinuousClock.Instant) {
        var state = item(id)
        state.endRead()
        if let believed = state.believed, actual < believed {
            state.unseen += believed - actual
            state.unseenSince = now
        } else if let believed = state.believed, actual > believed {
            let skipped = min(state.skippedRestock, actual - believed)
            state.skippedRestock -= skipped
            if actual - believed > skipped {
                state.gained += actual - believed - skipped
                state.unseenSince = state.unseenSince ?? now
            }
        }
        if state.believed == nil { state.coldUntil = now + coldWindow }
        state.cold = state.believed == nil || state.coldUntil.map { now < $0 } ?? false
        if !state.cold { state.skippedRestock = 0 }
        state.believed = actual
        state.confirmed = true
        items[id] = state
    }

    /// Forgets what we believe the shop holds (a resync: the shop may have been restored or edited), so that the
    /// next write reads the actual level first; unexplained loss is kept.
    package mutating func forgetBelieved(item id: String) {
        items[id]?.believed = nil
        items[id]?.confirmed = false
    }

    /// An `inventory_levels/update` equal to what we wrote is our own echo.
    package func isEcho(item id: String, available: Int64) -> Bool { items[id]?.believed == available }
}
