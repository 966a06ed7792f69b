import Contracts
import StockCore

/// One policy's day, played event by event: the stock truth (the calculator's own ``StockState`` and
/// ``StockGuard``), what every shop shows, and the writes and reports on their way.
///
/// ## The model
/// - **Buyers.** An order's first snapshot is a buyer at checkout in its shop. Shopify lets them buy only while the
///   shop shows enough of every line (inventory policy DENY); otherwise the order is refused, and every later event
///   of it is dropped (it never existed in this world).
/// - **The truth** learns every event when it happens: the shops' sync delay is the whole way from a sale to the new
///   count in a shop (webhook, calculator, exporter, Admin API), as `product-drop` measures it. It is the calculator's
///   arithmetic, unchanged: the same snapshots, refunds, movements and guard.
/// - **A shop's count** drops at once by its own sales (Shopify's checkout) and rises by its own restocks. A change of
///   the truth reaches shop `s` after its delay and sets the count to the shop's target (available, or its share),
///   less the shop's own sales since the change was computed: the exporter's compare-and-set holds those back
///   (``ShopLedger``). Writes older than the last one a shop took are dropped (newest version wins). Under the guard
///   the write is reported back after ``RehearsalSettings/reportDelayMillis`` and confirms the shop's share.
/// - **Interval sync** writes nothing between syncs; every N minutes each shop is set to the available quantity.
/// - **Oversold**: units sold beyond on hand minus what open orders already hold. **Lost**: an order a shop refused
///   that the warehouse could have filled whole (available, after safety stock, covered every line).
struct RehearsalWorld {
    let policy: RehearsalPolicy
    let settings: RehearsalSettings
    private let shopIndex: [ShopDomain: Int]
    private var truth = StockState()
    /// Per SKU, per shop (``RehearsalSettings/shops`` order): the count the shop shows.
    private var shown: [String: [Int64]] = [:]
    /// Per SKU, per shop: net units the shop's own orders took since the start (for the held-back units of a write).
    private var ownNet: [String: [Int64]] = [:]
    /// Per SKU, per shop: the version of the last write the shop took.
    private var written: [String: [Int64]] = [:]
    private var scheduled = Heap<Scheduled>()
    private var sequence = 0
    private var reviewAt: [String: Int64] = [:]
    private var refused = Set<OrderKey>()
    private var started = false
    private var now: Int64 = 0
    private var nextTick: Int64 = .max
    private var timeline = Timeline()
    private var outcome: PolicyOutcome
    private var perSku: [String: PolicyOutcome.Sku] = [:]

    init(policy: RehearsalPolicy, settings: RehearsalSettings, description: String) {
        self.policy = policy
        self.settings = settings
        shopIndex = Dictionary(uniqueKeysWithValues: settings.shops.enumerated().map { ($1, $0) })
        outcome = PolicyOutcome(name: policy.name, kind: policy.kind, description: description)
        truth.guardDefaults = settings.guardTimings
        truth.guardDefaults.shops = settings.shops
        truth.guardDefaults.threshold = policy.kind == .guarded ? policy.threshold : 0
    }

    /// Plays `events` (sorted by time; lines of unknown SKUs already removed) from `startingStock`, and returns what
    /// the policy did between `from` and `to`.
    mutating func run(
        events: [RehearsalEvent], startingStock: [String: Int64], knownSkus: Set<String>, from: Int64, to: Int64
    ) -> PolicyOutcome {
        // Registered as products/create would (the rehearsal reads no catalog): a movement of an unknown SKU is refused.
        for sku in knownSkus { truth.skus[sku] = truth.skus[sku] ?? SkuStock() }
        for (sku, units) in startingStock {
            truth.skus[sku, default: SkuStock()].onHand = units
            truth.levels[LevelKey(sku: sku, warehouse: StockState.defaultWarehouse)] = units
        }
        if policy.kind == .guarded {
            for (sku, threshold) in policy.thresholds { truth.skus[sku, default: SkuStock()].guardThreshold = threshold }
        }
        timeline.start(from: from, to: to, points: settings.timelinePoints)
        for e in events where e.atMillis <= to {
            advance(to: e.atMillis, windowStart: from)
            handle(e)
        }
        advance(to: .max, windowStart: from)
        finish()
        return outcome
    }

    // MARK: - Time

    private mutating func advance(to t: Int64, windowStart: Int64) {
        if !started, t >= windowStart { settle(at: windowStart) }
        while let next = scheduled.peek, next.at <= t {
            tick(until: next.at)
            _ = scheduled.pop()
            now = next.at
            perform(next.action)
        }
        if t != .max { tick(until: t) }
        if started { sample(until: t) }
        if t != .max { now = max(now, t) }
    }

    /// The start of the rehearsed window: every shop shows what the policy gives it, as after a quiet while.
    private mutating func settle(at t: Int64) {
        started = true
        now = t
        _ = truth.takeChanges(computedAtMillis: t)
        let count = settings.shops.count
        for (sku, stock) in truth.skus {
            shown[sku] = Array(repeating: stock.available, count: count)
            ownNet[sku] = Array(repeating: 0, count: count)
            written[sku] = Array(repeating: stock.version, count: count)
        }
        if policy.kind == .guarded {
            // Shares written and confirmed, until the guard has nothing more to give.
            for _ in 0..<8 {
                for sku in truth.skus.keys { truth.reviewGuard(sku: sku) }
                let messages = truth.takeChanges(computedAtMillis: t)
                if messages.isEmpty { break }
                for m in messages {
                    for (j, shop) in settings.shops.enumerated() {
                        let value = m.target(for: shop.description)
                        shown[m.sku]![j] = value
                        written[m.sku]![j] = m.version
                        if m.shares != nil, let sold = m.soldTotals?[shop.description] {
                            truth.guards[m.sku]?.confirm(
                                shop: shop, version: m.version, value: value, heldBack: 0, soldTotal: sold)
                        }
                    }
                }
            }
        }
        if policy.kind == .interval { nextTick = t + policy.intervalMillis }
    }

    private mutating func tick(until t: Int64) {
        while policy.kind == .interval, nextTick <= t {
            for (sku, stock) in truth.skus {
                shown[sku] = Array(repeating: stock.available, count: settings.shops.count)
            }
            nextTick += policy.intervalMillis
        }
    }

    private mutating func sample(until t: Int64) {
        timeline.record(until: t) {
            PolicyOutcome.Point(
                t_ms: $0, units_sold: outcome.units_sold, units_oversold: outcome.units_oversold,
                units_lost: outcome.units_lost)
        }
    }

    // MARK: - Events

    private mutating func handle(_ e: RehearsalEvent) {
        guard started else {
            // History: it builds the state the window starts from.
            if case .rejected(let reason) = truth.apply(e.event, cause: e.cause) { refusedByModel.append(reason) }
            _ = truth.takeChanges(computedAtMillis: e.atMillis)
            return
        }
        switch e.event {
        case .order(let snapshot):
            if refused.contains(snapshot.key) { return }
            // No snapshot applied yet (a shipment or refund may have named the order first): its buyer.
            if truth.orders[snapshot.key]?.updatedAtMillis == nil {
                checkout(snapshot, e)
            } else {
                apply(e.event, e.cause)
            }
        case .refund(let refund):
            if refused.contains(refund.orderKey) { return }
            apply(e.event, e.cause)
        case .movements:
            apply(e.event, e.cause)
        case .catalog, .ignored:
            return
        }
    }

    private mutating func checkout(_ snapshot: OrderSnapshot, _ e: RehearsalEvent) {
        var need: [String: Int64] = [:]
        for line in snapshot.lines where !snapshot.cancelled { need[line.sku, default: 0] += line.currentQuantity }
        need = need.filter { $0.value > 0 }
        guard !need.isEmpty, let shop = shopIndex[snapshot.shop] else {
            apply(e.event, e.cause)
            return
        }
        outcome.orders_placed += 1
        let shows = need.allSatisfy { sku, units in (shown[sku]?[shop] ?? 0) >= units }
        guard shows else {
            refused.insert(snapshot.key)
            let fillable = need.allSatisfy { sku, units in (truth.skus[sku]?.available ?? 0) >= units }
            if fillable {
                outcome.orders_lost += 1
                for (sku, units) in need {
                    outcome.units_lost += units
                    perSku[sku, default: .init(sku: sku)].units_lost += units
                }
            }
            return
        }
        outcome.orders_accepted += 1
        for (sku, units) in need {
            let stock = truth.skus[sku] ?? SkuStock()
            let over = units - max(0, min(units, stock.onHand - stock.reserved))
            outcome.units_sold += units
            outcome.units_oversold += over
            perSku[sku, default: .init(sku: sku)].units_sold += units
            perSku[sku, default: .init(sku: sku)].units_oversold += over
        }
        apply(e.event, e.cause)
    }

    private mutating func apply(_ event: StockEvent, _ cause: EventCause) {
        if case .rejected(let reason) = truth.apply(event, cause: cause) { refusedByModel.append(reason) }
        publish(truth.takeChanges(computedAtMillis: now))
    }

    /// Why the stock model refused events of the window (as the calculator would dead-letter them).
    private(set) var refusedByModel: [String] = []

    /// The truth changed: shops' own sales are already in their counts; writes leave for every shop.
    private mutating func publish(_ messages: [AvailabilityMessage]) {
        let count = settings.shops.count
        for m in messages {
            var shownRow = shown[m.sku] ?? Array(repeating: 0, count: count)
            var ownRow = ownNet[m.sku] ?? Array(repeating: 0, count: count)
            for (j, shop) in settings.shops.enumerated() {
                guard let own = m.ownQuantity(of: shop.description), own != 0 else { continue }
                shownRow[j] -= own
                ownRow[j] += own
            }
            shown[m.sku] = shownRow
            ownNet[m.sku] = ownRow
            if written[m.sku] == nil { written[m.sku] = Array(repeating: 0, count: count) }
            guard policy.kind != .interval else { continue }
            for (j, shop) in settings.shops.enumerated() {
                schedule(
                    at: now + settings.delay(shop),
                    .write(
                        shop: j, sku: m.sku, version: m.version, target: m.target(for: shop.description), ownNet: ownRow[j],
                        soldTotal: m.shares == nil ? nil : m.soldTotals?[shop.description]))
            }
            if truth.guards[m.sku] != nil {
                let at = now + settings.guardTimings.rebalanceAfterMillis + 1
                if (reviewAt[m.sku] ?? .max) > at {
                    reviewAt[m.sku] = at
                    schedule(at: at, .review(sku: m.sku))
                }
            }
        }
    }

    private mutating func perform(_ action: Action) {
        switch action {
        case .write(let j, let sku, let version, let target, let ownAtCompute, let soldTotal):
            guard version > written[sku]![j] else { return }
            written[sku]![j] = version
            let heldBack = ownNet[sku]![j] - ownAtCompute
            let value = max(0, target - heldBack)
            shown[sku]![j] = value
            if let soldTotal {
                schedule(
                    at: now + settings.reportDelayMillis,
                    .report(shop: j, sku: sku, version: version, value: value, heldBack: heldBack, soldTotal: soldTotal))
            }
        case .report(let j, let sku, let version, let value, let heldBack, let soldTotal):
            guard truth.guards[sku] != nil else { return }
            truth.guards[sku]!.confirm(
                shop: settings.shops[j], version: version, value: value, heldBack: heldBack, soldTotal: soldTotal)
            truth.reviewGuard(sku: sku)
            publish(truth.takeChanges(computedAtMillis: now))
        case .review(let sku):
            guard reviewAt[sku] == now else { return }
            reviewAt[sku] = nil
            truth.reviewGuard(sku: sku)
            publish(truth.takeChanges(computedAtMillis: now))
        }
    }

    private mutating func schedule(at: Int64, _ action: Action) {
        sequence += 1
        scheduled.push(Scheduled(at: at, sequence: sequence, action: action))
    }

    private mutating func finish() {
        for (sku, stock) in truth.skus {
            let offered = (shown[sku] ?? []).reduce(0) { $0 + max(0, $1) }
            outcome.units_stranded += max(0, stock.available - offered)
        }
        outcome.worst_skus = perSku.values.filter { $0.units_oversold > 0 || $0.units_lost > 0 }
            .sorted { ($0.units_oversold, $0.units_lost, $1.sku) > ($1.units_oversold, $1.units_lost, $0.sku) }
            .prefix(settings.top).map { $0 }
        outcome.timeline = timeline.points
    }

    /// What each SKU sold, oversold and lost (for the recommendations).
    var perSkuOutcomes: [String: PolicyOutcome.Sku] { perSku }

    // MARK: - Scheduled work

    enum Action {
        /// A write lands in a shop: its target, less the shop's own sales since `ownNet`.
        case write(shop: Int, sku: String, version: Int64, target: Int64, ownNet: Int64, soldTotal: Int64?)
        /// The exporter's report of a guarded write reaches the truth.
        case report(shop: Int, sku: String, version: Int64, value: Int64, heldBack: Int64, soldTotal: Int64)
        /// The guard looks at a SKU again (demand decays, idle shops give back surplus).
        case review(sku: String)
    }

    struct Scheduled: Comparable {
        var at: Int64
        var sequence: Int
        var action: Action
        static func < (a: Scheduled, b: Scheduled) -> Bool { (a.at, a.sequence) < (b.at, b.sequence) }
        static func == (a: Scheduled, b: Scheduled) -> Bool { (a.at, a.sequence) == (b.at, b.sequence) }
    }
}

/// Evenly spaced samples of cumulative figures over a window.
struct Timeline {
    private(set) var points: [PolicyOutcome.Point] = []
    private var next: Int64 = .max
    private var step: Int64 = 1
    private var origin: Int64 = 0
    private var end: Int64 = 0

    mutating func start(from: Int64, to: Int64, points count: Int) {
        step = max(1, (to - from) / Int64(max(1, count)))
        origin = from
        next = from
        end = to
    }

    /// Appends a point for every sample time up to `t`; `point` gets the time relative to the window's start.
    mutating func record(until t: Int64, _ point: (Int64) -> PolicyOutcome.Point) {
        while next <= min(t, end) {
            points.append(point(next - origin))
            next += step
        }
        if t == .max, points.last.map({ $0.t_ms < end - origin }) ?? true { points.append(point(end - origin)) }
    }
}

/// A binary min-heap.
struct Heap<Element: Comparable> {
    private var items: [Element] = []
    var peek: Element? { items.first }
    var isEmpty: Bool { items.isEmpty }

    mutating func push(_ e: Element) {
        items.append(e)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard items[i] < items[parent] else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> Element? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < items.count, items[l] < items[m] { m = l }
            if r < items.count, items[r] < items[m] { m = r }
            if m == i { break }
            items.swapAt(i, m)
            i = m
        }
        return top
    }
}
