import Contracts

/// What a shop writer knows while it owns the shop — one lease, the subscription its deliveries came from — and
/// the decisions on it that need no I/O. The writer (`ShopWriter`, an actor in the exporter) performs what these
/// decide: it acknowledges, wakes its write loop, counts. A handover replaces the whole value: beliefs, written
/// versions and announced sales are only true while the lease stands, and a field reset one by one could be
/// forgotten.
package struct ShopWriterState<Token> {
    /// Messages waiting to be written, newest per SKU, with the deliveries they acknowledge.
    package var coalescer = Coalescer<Token>()
    /// What the writer believes the shop holds per inventory item, and the loss it holds back.
    package var ledger: ShopLedger
    /// SKU ↔ inventory items of the shop.
    package var catalog: ShopCatalog
    /// The newest message written per SKU: written again to an inventory item a catalog message adds.
    package var lastWritten: [String: AvailabilityMessage] = [:]
    /// SKUs planned again once a write of them settles: their items changed while none of their writes had
    /// finished yet, or their own sale or restock was announced while a write of them was on its way
    /// (``receive(_:token:shop:resync:reconcile:)``).
    package var rewriteAfterSettle: Set<String> = []
    /// The newest version received per SKU.
    package var maxSeenVersion: [String: Int64] = [:]
    /// Versions of each SKU whose own sales and restocks reached the ledger: each once, in whatever order they
    /// arrive. The calculator's outbox can publish a version after a newer one (its first publish failed in a broker
    /// outage and was sent again); taking only versions above the newest seen dropped that version's sale, and the
    /// shop was held a unit below the truth (`stockwire-scenario faults --fault broker-crash`).
    package var announced: [String: AnnouncedVersions] = [:]
    /// SKUs to read back, and when: set when a write driven by a message settles, pushed back by the next one.
    package var verifyDue: [String: ContinuousClock.Instant] = [:]
    /// Per guarded SKU, this shop's `sold_totals` figure of the newest version received: the sales the ledger has
    /// taken in. Reported with a write, it tells the guard which sales the write already accounted for.
    package var soldTotalSeen: [String: Int64] = [:]
    /// When the last delivery flagged `redelivered` came: the backlog of a previous owner being handed over.
    package var lastRedeliveryAt: ContinuousClock.Instant?

    /// A writer that knows nothing of the shop yet.
    package init(unseenTTL: Duration, recheckAfter: [Duration]) {
        ledger = ShopLedger(unseenTTL: unseenTTL)
        catalog = ShopCatalog(recheckAfter: recheckAfter)
    }

    /// Takes in an availability message for `shop` delivered as `token`: the shop's own sale or restock it announces
    /// reaches the ledger (once per version), and the message waits to be written. Returns the coalescer's outcome;
    /// on `.obsolete` the driver acknowledges `token` at once.
    ///
    /// A version older than the one written, arriving late (the calculator's outbox sends again what a broker outage
    /// refused), may still announce the shop's own sale or restock. Its sale may explain loss that was held back from
    /// the shop when the newer version was written, and nothing else would write the SKU again: a node kill left
    /// shop D a unit below the truth (`faults --fault broker-node-kill --broker-nodes 3 --seed 5`: v38 written as
    /// 94 − 1 unseen, v37 with the shop's sale came after the read-back). So the SKU is planned again with what the
    /// ledger knows now; when a write of it is on its way, once that write settles (it was planned without it).
    package mutating func receive(
        _ message: AvailabilityMessage, token: Token, shop: String, resync: Bool, reconcile: Bool
    ) -> Coalescer<Token>.Outcome {
        var ledgerMoved = false
        var writing = false
        if announced[message.sku, default: AnnouncedVersions(first: message.version)].insert(message.version),
            let items = catalog.items(sku: message.sku)
        {
            let sold = message.soldQuantity(of: shop) ?? 0
            if sold > 0, items.count == 1 { ledger.ownSale(item: items[0], quantity: sold) }
            // Net below gross: the shop's own orders gave units back, which Shopify restocked in the shop.
            let restocked = message.restockedQuantity(of: shop)
            if restocked > 0, items.count == 1 { ledger.ownRestock(item: items[0], quantity: restocked) }
            ledgerMoved = items.count == 1 && (sold > 0 || restocked > 0)
            writing = ledgerMoved && ledger.item(items[0]).writing
        }
        if message.version > maxSeenVersion[message.sku] ?? .min { soldTotalSeen[message.sku] = message.soldTotals?[shop] }
        maxSeenVersion[message.sku] = max(maxSeenVersion[message.sku] ?? .min, message.version)
        let outcome = coalescer.add(message, token: token, resync: resync, reconcile: reconcile)
        if outcome == .obsolete, ledgerMoved, let last = lastWritten[message.sku] { coalescer.rewrite(last) }
        if writing { rewriteAfterSettle.insert(message.sku) }
        return outcome
    }

    /// Applies a catalog message: later writes map SKUs from it without asking Shopify. A SKU whose items changed
    /// is written again with its last written message (its new item has never been written), or, when none of its
    /// writes has finished yet, once the one on its way settles. Returns the change and how many SKUs wait to be
    /// written again now.
    package mutating func apply(_ message: CatalogMessage) -> (change: ShopCatalog.Change, rewrites: Int) {
        let change = catalog.apply(message)
        guard !change.ignoredAsOlder else { return (change, 0) }
        var rewrites = 0
        for sku in change.changed.keys.sorted() {
            guard let last = lastWritten[sku] else {
                rewriteAfterSettle.insert(sku)
                continue
            }
            coalescer.rewrite(last)
            rewrites += 1
        }
        return (change, rewrites)
    }
}

/// The versions of one SKU already taken in: every version up to `floor`, and those above it in `above`.
package struct AnnouncedVersions: Sendable, Equatable {
    package private(set) var floor: Int64
    package private(set) var above: Set<Int64> = []
    /// Versions kept above the floor at most; beyond it the floor moves up to the oldest of them (a version older
    /// than that arriving still later is taken as seen).
    package static let limit = 64

    /// Starts at the first version seen: older ones arriving later are taken as seen (they predate this writer).
    package init(first: Int64) { floor = first - 1 }

    /// Takes `version` in; false when it was taken in before.
    package mutating func insert(_ version: Int64) -> Bool {
        guard version > floor, above.insert(version).inserted else { return false }
        if above.count > Self.limit, let oldest = above.min() {
            above.remove(oldest)
            floor = oldest
        }
        while above.remove(floor + 1) != nil { floor += 1 }
        return true
    }
}

// MARK: - Planning a write

/// One SKU of a write: its pending message, the inventory items it writes, and what the shop should show.
package struct WriteEntry<Token> {
    package var pending: Coalescer<Token>.Pending
    package var items: [String]
    /// What the shop should show: the available quantity, or its share under the zero-oversell guard.
    package var target: Int64
    package var sku: String { pending.message.sku }

    package init(pending: Coalescer<Token>.Pending, items: [String], target: Int64) {
        self.pending = pending
        self.items = items
        self.target = target
    }

    /// The target of one of the SKU's items: under the guard the share goes to the first item only (two items
    /// showing it would let the shop sell it twice).
    package func target(of item: String) -> Int64 {
        pending.message.shares == nil || item == items.first ? target : 0
    }
}

/// One compare-and-set round of a write, planned from the ledger.
package struct WritePlan: Equatable {
    /// One inventory item's level: set `quantity` where the shop holds `changeFrom`.
    package struct Item: Equatable {
        package var item: String
        package var quantity: Int64
        package var changeFrom: Int64?
        /// The index of the entry (SKU) the item belongs to.
        package var entry: Int
    }

    /// Items to send.
    package var send: [Item] = []
    /// Items the shop holds at their level already whose SKU is under the guard: not sent, but reported, since a
    /// confirmed level frees units for other shops. Held levels of other SKUs are neither sent nor reported (a
    /// read-back of a quiet SKU, alone or beside another SKU's write, reported it a second time).
    package var heldGuarded: [Item] = []
    /// Unseen loss held back per item when the plan was made, for the report.
    package var heldBack: [String: Int64] = [:]
}

extension ShopWriterState {
    /// The items whose level must be read before a plan: unknown to the ledger, or due a read-back (`verify`) that
    /// this write has not done yet.
    package func itemsToRead(_ entries: [WriteEntry<Token>], readBack: Bool) -> [String] {
        entries.flatMap { e in e.items.filter { (e.pending.verify && !readBack) || ledger.item($0).believed == nil } }
    }

    /// Plans one round: each item's quantity is its target less the loss held back, compared against what the
    /// ledger believes the shop holds; items the shop holds already are not sent.
    package mutating func plan(_ entries: [WriteEntry<Token>], now: ContinuousClock.Instant) -> WritePlan {
        var plan = WritePlan()
        for (e, entry) in entries.enumerated() {
            for item in entry.items {
                let (quantity, changeFrom) = ledger.plan(item: item, target: entry.target(of: item), now: now)
                plan.heldBack[item] = ledger.item(item).unseen
                let planned = WritePlan.Item(item: item, quantity: quantity, changeFrom: changeFrom, entry: e)
                if !ledger.holds(item: item, quantity: quantity) {
                    plan.send.append(planned)
                } else if entry.pending.message.shares != nil {
                    plan.heldGuarded.append(planned)
                }
            }
        }
        return plan
    }
}

// MARK: - Reading a write's answer

/// A refusal in a write's answer: the platform's code, its message, the index of the sent item it is about (nil when
/// it names none), and what it means (``ShopPlatform/UserError/Kind``).
package struct WriteRefusal: Equatable, Sendable {
    package var code: String?
    package var message: String
    package var index: Int?
    package var kind: ShopPlatform.UserError.Kind

    package init(code: String?, message: String, index: Int?, kind: ShopPlatform.UserError.Kind = .other) {
        self.code = code
        self.message = message
        self.index = index
        self.kind = kind
    }
}

/// What a write round's answer asks for next.
package enum WriteAnswer: Equatable {
    /// Every item sent now holds its planned quantity.
    case applied
    /// Only bundle parents refused: these sent items (indices into ``WritePlan/send``) are left out from now on and
    /// the round planned again without them.
    case leaveOut(sent: [Int])
    /// A refusal that names no item: every entry of the round is refused with it.
    case refusedAll(WriteRefusal)
    /// Refusals of single items: these entries (SKUs) are refused, each with its first refusal; the rest are planned
    /// again.
    case refused(entries: [Int], refusals: [WriteRefusal])
    /// The shop held other quantities than compared against: `entries` (all, when the answer named none) are read
    /// (`read`, item ids) and planned again; the other entries, which the shop held as planned, are written at once
    /// on their own instead of waiting behind the read.
    case stale(entries: Set<Int>, read: [String])
}

extension WritePlan {
    /// Reads the refusals of a round of `entryCount` entries that sent ``send``.
    package func answer(_ refusals: [WriteRefusal], entryCount: Int) -> WriteAnswer {
        guard !refusals.isEmpty else { return .applied }
        let inRange = { (r: WriteRefusal) in r.index.flatMap { $0 < send.count ? $0 : nil } }
        let other = refusals.filter { $0.kind != .stale }
        let nonMutable = other.filter { $0.kind == .notWritable }.compactMap(inRange)
        if !nonMutable.isEmpty, nonMutable.count == other.count { return .leaveOut(sent: nonMutable) }
        if !other.isEmpty {
            if let unnamed = other.first(where: { inRange($0) == nil }) { return .refusedAll(unnamed) }
            var entries: [Int] = []
            var firsts: [WriteRefusal] = []
            for refusal in other {
                let entry = send[inRange(refusal)!].entry
                guard !entries.contains(entry) else { continue }
                entries.append(entry)
                firsts.append(refusal)
            }
            return .refused(entries: entries, refusals: firsts)
        }
        let staleSent = refusals.compactMap(inRange)
        guard !staleSent.isEmpty else { return .stale(entries: Set(0..<entryCount), read: send.map(\.item)) }
        return .stale(entries: Set(staleSent.map { send[$0].entry }), read: staleSent.map { send[$0].item })
    }
}
