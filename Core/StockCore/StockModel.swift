import Contracts

// MARK: - Keys

/// One order of one shop.
package struct OrderKey: Hashable, Sendable, Comparable {
    package var shop: ShopDomain
    package var orderId: Int64

    package static func < (a: OrderKey, b: OrderKey) -> Bool { (a.shop, a.orderId) < (b.shop, b.orderId) }

    /// Memberwise (explicit: the type is used outside its module).
    package init(shop: ShopDomain, orderId: Int64) {
        self.shop = shop
        self.orderId = orderId
    }
}

/// Stock of one SKU in one warehouse.
package struct LevelKey: Hashable, Sendable, Comparable {
    package var sku: String
    package var warehouse: String

    package static func < (a: LevelKey, b: LevelKey) -> Bool { (a.sku, a.warehouse) < (b.sku, b.warehouse) }

    /// Memberwise (explicit: the type is used outside its module).
    package init(sku: String, warehouse: String) {
        self.sku = sku
        self.warehouse = warehouse
    }
}

/// One refund of one shop (its id is unique per shop).
package struct RefundKey: Hashable, Sendable {
    package var shop: ShopDomain
    package var refundId: Int64

    /// Memberwise (explicit: the type is used outside its module).
    package init(shop: ShopDomain, refundId: Int64) {
        self.shop = shop
        self.refundId = refundId
    }
}

/// One variant of one shop.
package struct VariantKey: Hashable, Sendable {
    package var shop: ShopDomain
    package var variantId: Int64

    /// Memberwise (explicit: the type is used outside its module).
    package init(shop: ShopDomain, variantId: Int64) {
        self.shop = shop
        self.variantId = variantId
    }
}

// MARK: - Values

/// The truth of one SKU.
package struct SkuStock: Sendable, Equatable {
    /// Physical units in warehouses flagged for sale.
    package var onHand: Int64 = 0
    /// Units held by open order lines of all shops.
    package var reserved: Int64 = 0
    /// Units kept back from every shop.
    package var safetyStock: Int64 = 0
    /// Bumped on every committed change.
    package var version: Int64 = 0
    /// This SKU's zero-oversell guard threshold; nil = the default.
    package var guardThreshold: Int64?

    /// What every shop is told: `max(0, on_hand − reserved − safety_stock)`.
    package var available: Int64 { max(0, onHand - reserved - safetyStock) }

    /// Whether the quantities (not the version) differ.
    package func quantitiesDiffer(from other: SkuStock) -> Bool {
        onHand != other.onHand || reserved != other.reserved || safetyStock != other.safetyStock
    }

    /// Memberwise (explicit: the type is used outside its module).
    package init(onHand: Int64 = 0, reserved: Int64 = 0, safetyStock: Int64 = 0, version: Int64 = 0, guardThreshold: Int64? = nil)
    {
        self.onHand = onHand
        self.reserved = reserved
        self.safetyStock = safetyStock
        self.version = version
        self.guardThreshold = guardThreshold
    }
}

/// One line of an order as the calculator keeps it.
package struct OrderLine: Sendable, Equatable {
    /// The SKU the line reserves; nil until a snapshot (or a shipment) named it.
    package var sku: String?
    /// Originally ordered (`quantity`).
    package var quantity: Int64 = 0
    /// After edits and removals (`current_quantity`, or `quantity` when the payload has none).
    package var currentQuantity: Int64 = 0
    /// Shipped by the warehouse (sum of shipment movements for this line).
    package var shipped: Int64 = 0
    /// Released by refunds with restock type `cancel` (sum over distinct refunds).
    package var refundCancelled: Int64 = 0
    /// What this line currently adds to its SKU's `reserved`.
    package var reserved: Int64 = 0

    /// The open quantity: still to ship from the warehouse.
    ///
    /// A refund's removal also shows in a later snapshot's `current_quantity`, so the two are not added: the larger
    /// removal wins, and nothing is released twice.
    package func open(cancelled: Bool) -> Int64 {
        guard !cancelled, sku != nil else { return 0 }
        let remaining = min(currentQuantity, quantity - refundCancelled)
        return max(0, remaining - shipped)
    }

    /// Memberwise (explicit: the type is used outside its module).
    package init(
        sku: String? = nil, quantity: Int64 = 0, currentQuantity: Int64 = 0, shipped: Int64 = 0, refundCancelled: Int64 = 0,
        reserved: Int64 = 0
    ) {
        self.sku = sku
        self.quantity = quantity
        self.currentQuantity = currentQuantity
        self.shipped = shipped
        self.refundCancelled = refundCancelled
        self.reserved = reserved
    }
}

/// One order as the calculator keeps it.
package struct OrderState: Sendable, Equatable {
    /// `updated_at` (ms since 1970) of the applied snapshot; nil while only shipments or refunds referenced it.
    package var updatedAtMillis: Int64?
    /// `X-Shopify-Triggered-At` (ms) of the applied snapshot's webhook, when it had one.
    package var triggeredAtMillis: Int64? = nil
    /// Whether the applied snapshot was cancelled.
    package var cancelled = false
    /// Lines by line item id.
    package var lines: [Int64: OrderLine] = [:]

    /// Memberwise (explicit: the type is used outside its module).
    package init(
        updatedAtMillis: Int64? = nil, triggeredAtMillis: Int64? = nil, cancelled: Bool = false, lines: [Int64: OrderLine] = [:]
    ) {
        self.updatedAtMillis = updatedAtMillis
        self.triggeredAtMillis = triggeredAtMillis
        self.cancelled = cancelled
        self.lines = lines
    }
}

/// A shop's variant: how an exporter maps a SKU to the shop's inventory item.
package struct Variant: Sendable, Equatable {
    package var productId: Int64
    package var sku: String?
    package var inventoryItemId: Int64?

    /// Memberwise (explicit: the type is used outside its module).
    package init(productId: Int64, sku: String? = nil, inventoryItemId: Int64? = nil) {
        self.productId = productId
        self.sku = sku
        self.inventoryItemId = inventoryItemId
    }
}

// MARK: - Events

/// A Shopify order payload reduced to what moves stock.
package struct OrderSnapshot: Sendable, Equatable {
    /// One line item.
    package struct Line: Sendable, Equatable {
        package var lineId: Int64
        package var sku: String
        package var quantity: Int64
        package var currentQuantity: Int64

        /// Memberwise (explicit: the type is used outside its module).
        package init(lineId: Int64, sku: String, quantity: Int64, currentQuantity: Int64) {
            self.lineId = lineId
            self.sku = sku
            self.quantity = quantity
            self.currentQuantity = currentQuantity
        }
    }

    package var shop: ShopDomain
    package var orderId: Int64
    /// `updated_at` (or `committed_at` of an edit), ms since 1970: snapshots only replace older ones.
    package var updatedAtMillis: Int64
    /// `X-Shopify-Triggered-At` of the webhook (ms): orders two snapshots whose `updated_at` is the same second.
    package var triggeredAtMillis: Int64? = nil
    package var cancelled: Bool
    /// Lines with a SKU.
    package var lines: [Line]
    /// Lines skipped because their SKU is null or empty.
    package var linesWithoutSku: Int = 0
    /// Custom lines skipped (no product or variant: Shopify reduces no stock for them, whatever SKU they carry).
    package var customLines: Int = 0

    package var key: OrderKey { OrderKey(shop: shop, orderId: orderId) }

    /// Memberwise (explicit: the type is used outside its module).
    package init(
        shop: ShopDomain, orderId: Int64, updatedAtMillis: Int64, triggeredAtMillis: Int64? = nil, cancelled: Bool, lines: [Line],
        linesWithoutSku: Int = 0, customLines: Int = 0
    ) {
        self.shop = shop
        self.orderId = orderId
        self.updatedAtMillis = updatedAtMillis
        self.triggeredAtMillis = triggeredAtMillis
        self.cancelled = cancelled
        self.lines = lines
        self.linesWithoutSku = linesWithoutSku
        self.customLines = customLines
    }
}

/// A Shopify refund reduced to what moves stock.
package struct RefundEvent: Sendable, Equatable {
    /// One refunded line.
    package struct Line: Sendable, Equatable {
        package var lineId: Int64
        package var quantity: Int64
        package var restockType: String

        /// Memberwise (explicit: the type is used outside its module).
        package init(lineId: Int64, quantity: Int64, restockType: String) {
            self.lineId = lineId
            self.quantity = quantity
            self.restockType = restockType
        }
    }

    package var shop: ShopDomain
    package var orderId: Int64
    package var refundId: Int64
    package var lines: [Line]

    package var orderKey: OrderKey { OrderKey(shop: shop, orderId: orderId) }

    /// Units per line released from reservation (restock type `cancel`).
    package var releases: [(lineId: Int64, quantity: Int64)] {
        lines.filter { $0.restockType == "cancel" && $0.quantity > 0 }.map { ($0.lineId, $0.quantity) }
    }

    /// Memberwise (explicit: the type is used outside its module).
    package init(shop: ShopDomain, orderId: Int64, refundId: Int64, lines: [Line]) {
        self.shop = shop
        self.orderId = orderId
        self.refundId = refundId
        self.lines = lines
    }
}

/// A shop's product variants (`products/create|update`).
package struct CatalogUpdate: Sendable, Equatable {
    package struct Entry: Sendable, Equatable {
        package var variantId: Int64
        package var sku: String?
        package var inventoryItemId: Int64?
        /// Whether Shopify tracks the variant's inventory (nil: the webhook did not say).
        package var tracked: Bool? = nil
        /// Whether the variant keeps selling when out of stock (`inventory_policy` `continue`; nil: not said).
        package var continueSelling: Bool? = nil

        /// Memberwise (explicit: the type is used outside its module).
        package init(
            variantId: Int64, sku: String? = nil, inventoryItemId: Int64? = nil, tracked: Bool? = nil,
            continueSelling: Bool? = nil
        ) {
            self.variantId = variantId
            self.sku = sku
            self.inventoryItemId = inventoryItemId
            self.tracked = tracked
            self.continueSelling = continueSelling
        }
    }

    package var shop: ShopDomain
    package var productId: Int64
    /// The product's `updated_at` (ms since 1970), when Shopify sent one.
    package var updatedAtMillis: Int64? = nil
    package var variants: [Entry]

    /// Memberwise (explicit: the type is used outside its module).
    package init(shop: ShopDomain, productId: Int64, updatedAtMillis: Int64? = nil, variants: [Entry]) {
        self.shop = shop
        self.productId = productId
        self.updatedAtMillis = updatedAtMillis
        self.variants = variants
    }
}

/// Everything the calculator applies.
package enum StockEvent: Sendable, Equatable {
    case order(OrderSnapshot)
    case refund(RefundEvent)
    /// One or more warehouse movements delivered as one message (applied all or none).
    case movements([StockMovement])
    case catalog(CatalogUpdate)
    /// Understood, but nothing to do (e.g. a topic the calculator does not use); the reason is logged.
    case ignored(String)
}

/// What caused a change: the event's identity and timing.
package struct EventCause: Sendable, Equatable {
    package var messageId: String
    package var receivedAtMillis: Int64

    /// Memberwise (explicit: the type is used outside its module).
    package init(messageId: String, receivedAtMillis: Int64) {
        self.messageId = messageId
        self.receivedAtMillis = receivedAtMillis
    }
}

/// What applying one event did.
package enum ApplyOutcome: Sendable, Equatable {
    /// The event changed (or confirmed) the truth.
    case applied
    /// A snapshot older than (or as old as) the one already applied.
    case stale
    /// Nothing to do for this event.
    case ignored(String)
    /// The event cannot be applied: it goes to the dead-letter queue with this reason.
    case rejected(String)
}

// MARK: - State

/// The slice of the stock truth one batch touches, and the pure arithmetic that changes it.
///
/// The store loads the rows a batch needs into a ``StockState``, applies every event here, and writes the
/// differences back; tests apply events to an in-memory state the same way.
package struct StockState: Sendable, Equatable {
    /// The warehouse a movement without `warehouse` refers to.
    package static let defaultWarehouse = "default"

    package var skus: [String: SkuStock] = [:]
    package var levels: [LevelKey: Int64] = [:]
    /// Warehouses and whether their stock is for sale.
    package var warehouses: [String: Bool] = [StockState.defaultWarehouse: true]
    package var orders: [OrderKey: OrderState] = [:]
    package var refunds: Set<RefundKey> = []
    package var variants: [VariantKey: Variant] = [:]
    /// Zero-oversell guards of the SKUs that have one active (loaded with the SKUs).
    package var guards: [String: StockGuard] = [:]
    /// The guard's defaults (threshold, shops, timings); a SKU's own threshold wins.
    package var guardDefaults = StockGuard.Settings()

    /// Per-SKU bookkeeping of the changes since the last ``takeChanges(computedAtMillis:)``.
    package private(set) var pending: [String: PendingChange] = [:]

    /// Order lines without a SKU met since the state was created.
    package private(set) var linesWithoutSku = 0
    /// Custom order lines (no product or variant) met since the state was created.
    package private(set) var customLines = 0

    /// What a SKU looked like before the batch, and what changed it.
    package struct PendingChange: Sendable, Equatable {
        package var before: SkuStock
        package var causes: [String] = []
        package var firstReceivedAtMillis: Int64?
        /// Net reservation change per shop caused by that shop's own orders.
        package var orderDeltaByShop: [ShopDomain: Int64] = [:]
        /// Units each shop's own orders newly reserved (sales, gross: a cancel in the same batch does not net it out).
        package var soldByShop: [ShopDomain: Int64] = [:]
        /// Units each shop's own orders released (cancellations, edits down, refunds), gross.
        package var restockedByShop: [ShopDomain: Int64] = [:]

        /// Memberwise (explicit: the type is used outside its module).
        package init(
            before: SkuStock, causes: [String] = [], firstReceivedAtMillis: Int64? = nil,
            orderDeltaByShop: [ShopDomain: Int64] = [:],
            soldByShop: [ShopDomain: Int64] = [:], restockedByShop: [ShopDomain: Int64] = [:]
        ) {
            self.before = before
            self.causes = causes
            self.firstReceivedAtMillis = firstReceivedAtMillis
            self.orderDeltaByShop = orderDeltaByShop
            self.soldByShop = soldByShop
            self.restockedByShop = restockedByShop
        }
    }

    package init() {}

    // MARK: Applying

    /// Applies one event; a rejected event leaves the state unchanged.
    package mutating func apply(_ event: StockEvent, cause: EventCause) -> ApplyOutcome {
        switch event {
        case .order(let snapshot): return apply(snapshot, cause: cause)
        case .refund(let refund): return apply(refund, cause: cause)
        case .movements(let movements): return apply(movements, cause: cause)
        case .catalog(let update): return apply(update)
        case .ignored(let reason): return .ignored(reason)
        }
    }

    /// Whether `snapshot` replaces the applied one: a later `updated_at`, or the same `updated_at` (Shopify's
    /// stamp has whole seconds, so two changes within a second share it) and a later webhook trigger time.
    /// Equal in both is the same change delivered again: stale.
    package static func isNewer(_ snapshot: OrderSnapshot, than appliedUpdatedAt: Int64, appliedTriggeredAt: Int64?) -> Bool {
        if snapshot.updatedAtMillis != appliedUpdatedAt { return snapshot.updatedAtMillis > appliedUpdatedAt }
        guard let incoming = snapshot.triggeredAtMillis, let applied = appliedTriggeredAt else { return false }
        return incoming > applied
    }

    private mutating func apply(_ snapshot: OrderSnapshot, cause: EventCause) -> ApplyOutcome {
        linesWithoutSku += snapshot.linesWithoutSku
        customLines += snapshot.customLines
        var order = orders[snapshot.key] ?? OrderState()
        if let applied = order.updatedAtMillis,
            !Self.isNewer(snapshot, than: applied, appliedTriggeredAt: order.triggeredAtMillis)
        {
            return .stale
        }
        let wasCancelled = order.cancelled
        // The first snapshot applied may already show later edits, removals or the cancellation (its orders/create
        // came late): the shop still took each line's ordered `quantity` off its count at checkout, and Shopify put
        // back there what was given back since.
        let firstSnapshot = order.updatedAtMillis == nil
        order.updatedAtMillis = snapshot.updatedAtMillis
        order.triggeredAtMillis = snapshot.triggeredAtMillis
        order.cancelled = snapshot.cancelled
        var seen = Set<Int64>()
        for line in snapshot.lines {
            seen.insert(line.lineId)
            var state = order.lines[line.lineId] ?? OrderLine()
            if state.sku != line.sku {
                // The reservation moves with the SKU (Shopify does not allow this, but a snapshot is the truth).
                if let old = state.sku, state.reserved != 0 {
                    adjustReserved(old, by: -state.reserved, cause: cause, shop: snapshot.shop)
                }
                state.reserved = 0
                state.sku = line.sku
            }
            // Units the shop took off its own count at checkout (or an edit up), whatever the truth's reservation
            // does with them: a shipment booked before this snapshot leaves nothing to reserve, yet the shop's
            // count went down. Its exporter needs the figure (AvailabilityMessage.originSold).
            let taken = firstSnapshot ? line.quantity : line.currentQuantity - (wasCancelled ? 0 : state.currentQuantity)
            if firstSnapshot || !snapshot.cancelled, taken > 0 {
                touch(line.sku, cause: cause)
                pending[line.sku]!.soldByShop[snapshot.shop, default: 0] += taken
            }
            // Of those, what the shop has given back by now (edits down, the cancellation, refunds the truth saw
            // first), which Shopify restocked there: announced with the sale, the pair nets out in its exporter.
            let kept = snapshot.cancelled ? 0 : min(line.currentQuantity, line.quantity - state.refundCancelled)
            let givenBack = firstSnapshot ? line.quantity - max(0, kept) : 0
            if givenBack > 0 {
                touch(line.sku, cause: cause)
                pending[line.sku]!.restockedByShop[snapshot.shop, default: 0] += givenBack
            }
            state.quantity = line.quantity
            state.currentQuantity = line.currentQuantity
            order.lines[line.lineId] = state
        }
        // A line the newest snapshot no longer lists is no longer ordered.
        for lineId in order.lines.keys where !seen.contains(lineId) {
            order.lines[lineId]!.quantity = 0
            order.lines[lineId]!.currentQuantity = 0
        }
        orders[snapshot.key] = order
        settle(snapshot.key, cause: cause, originShop: snapshot.shop)
        return .applied
    }

    private mutating func apply(_ refund: RefundEvent, cause: EventCause) -> ApplyOutcome {
        let key = RefundKey(shop: refund.shop, refundId: refund.refundId)
        guard refunds.insert(key).inserted else { return .stale }
        let releases = refund.releases
        guard !releases.isEmpty else { return .applied }
        var order = orders[refund.orderKey] ?? OrderState()
        for (lineId, quantity) in releases {
            order.lines[lineId, default: OrderLine()].refundCancelled += quantity
        }
        orders[refund.orderKey] = order
        settle(refund.orderKey, cause: cause, originShop: refund.shop)
        return .applied
    }

    private mutating func apply(_ movements: [StockMovement], cause: EventCause) -> ApplyOutcome {
        // Validate all first: a message's movements apply all or none. A shipment's shop is the warehouse's text,
        // read here into the domain its order is kept under.
        var shops: [ShopDomain?] = []
        for m in movements {
            guard skus[m.sku] != nil else {
                return .rejected(
                    "movement \(m.movementId): unknown SKU '\(m.sku)' (SKUs are registered by products/create|update "
                        + "or by an order; replay this message after the SKU exists)")
            }
            let warehouse = m.warehouse ?? Self.defaultWarehouse
            guard warehouses[warehouse] != nil else {
                return .rejected(
                    "movement \(m.movementId): unknown warehouse '\(warehouse)' (add it with "
                        + "`calculator warehouse \(warehouse) --for-sale|--not-for-sale`, then replay)")
            }
            if m.kind == .shipment, m.shop == nil || m.orderId == nil || m.lineItemId == nil {
                return .rejected("movement \(m.movementId): a shipment needs shop, order_id and line_item_id")
            }
            do {
                shops.append(try m.shop.map { try ShopDomain($0) })
            } catch {
                return .rejected("movement \(m.movementId): shop: \(error)")
            }
        }
        for (m, shop) in zip(movements, shops) {
            let levelKey = LevelKey(sku: m.sku, warehouse: m.warehouse ?? Self.defaultWarehouse)
            let forSale = warehouses[levelKey.warehouse] ?? false
            let level = levels[levelKey] ?? 0
            let delta: Int64
            switch m.kind {
            case .receipt, .return: delta = m.quantity
            case .shipment: delta = -m.quantity
            case .correction: delta = m.quantity
            case .stocktake: delta = m.quantity - level
            }
            levels[levelKey] = level + delta
            if forSale, delta != 0 {
                touch(m.sku, cause: cause)
                skus[m.sku]!.onHand += delta
            }
            if m.kind == .shipment, let shop, let orderId = m.orderId, let lineId = m.lineItemId {
                let key = OrderKey(shop: shop, orderId: orderId)
                var order = orders[key] ?? OrderState()
                var line = order.lines[lineId] ?? OrderLine()
                if line.sku == nil { line.sku = m.sku }
                line.shipped += m.quantity
                order.lines[lineId] = line
                orders[key] = order
                settle(key, cause: cause, originShop: nil)
            }
        }
        return .applied
    }

    private mutating func apply(_ update: CatalogUpdate) -> ApplyOutcome {
        for entry in update.variants {
            variants[VariantKey(shop: update.shop, variantId: entry.variantId)] = Variant(
                productId: update.productId, sku: entry.sku, inventoryItemId: entry.inventoryItemId)
            if let sku = entry.sku, skus[sku] == nil { skus[sku] = SkuStock() }
        }
        return .applied
    }

    /// Brings every line's contribution to `reserved` in line with its open quantity.
    private mutating func settle(_ key: OrderKey, cause: EventCause, originShop: ShopDomain?) {
        guard var order = orders[key] else { return }
        for (lineId, var line) in order.lines {
            let open = line.open(cancelled: order.cancelled)
            guard open != line.reserved, let sku = line.sku else { continue }
            adjustReserved(sku, by: open - line.reserved, cause: cause, shop: originShop)
            line.reserved = open
            order.lines[lineId] = line
        }
        orders[key] = order
    }

    private mutating func adjustReserved(_ sku: String, by delta: Int64, cause: EventCause, shop: ShopDomain?) {
        if skus[sku] == nil { skus[sku] = SkuStock() }
        touch(sku, cause: cause)
        skus[sku]!.reserved += delta
        if let shop {
            pending[sku]!.orderDeltaByShop[shop, default: 0] += delta
            if delta < 0 { pending[sku]!.restockedByShop[shop, default: 0] -= delta }
        }
    }

    private mutating func touch(_ sku: String, cause: EventCause) {
        if pending[sku] == nil { pending[sku] = PendingChange(before: skus[sku] ?? SkuStock()) }
        if pending[sku]!.causes.last != cause.messageId { pending[sku]!.causes.append(cause.messageId) }
        let first = pending[sku]!.firstReceivedAtMillis
        pending[sku]!.firstReceivedAtMillis = min(first ?? cause.receivedAtMillis, cause.receivedAtMillis)
    }

    // MARK: Versions and messages

    // MARK: Zero-oversell guard

    /// Marks a SKU for a look by the guard in the next ``takeChanges(computedAtMillis:)`` (an exporter's
    /// confirmation, or time passing), without any change of its quantities.
    package mutating func reviewGuard(sku: String) {
        guard skus[sku] != nil, pending[sku] == nil else { return }
        pending[sku] = PendingChange(before: skus[sku]!)
    }

    /// The guard settings of `sku`: the defaults, with the SKU's own threshold when it has one.
    package func guardSettings(of sku: String, change: PendingChange) -> StockGuard.Settings {
        var settings = guardDefaults
        if let own = skus[sku]?.guardThreshold { settings.threshold = own }
        for shop in change.orderDeltaByShop.keys.sorted() where !settings.shops.contains(shop) { settings.shops.append(shop) }
        return settings
    }

    /// Bumps the version of every SKU whose quantities (or guard shares) changed since the last call and returns
    /// one availability message per such SKU (sorted by SKU); clears the bookkeeping.
    package mutating func takeChanges(computedAtMillis: Int64) -> [AvailabilityMessage] {
        var messages: [AvailabilityMessage] = []
        for (sku, change) in pending.sorted(by: { $0.key < $1.key }) {
            guard var stock = skus[sku] else { continue }
            let nextVersion = max(stock.version, change.before.version) + 1
            var guardChanged = false
            let settings = guardSettings(of: sku, change: change)
            if settings.threshold > 0 || guards[sku] != nil {
                var g = guards[sku] ?? StockGuard()
                let before = g.shares
                for (shop, net) in change.orderDeltaByShop.sorted(by: { $0.key < $1.key }) {
                    g.ownChange(shop: shop, net: net, version: nextVersion, now: computedAtMillis, settings: settings)
                }
                let allocated = g.allocate(
                    available: stock.available, version: nextVersion, now: computedAtMillis, settings: settings)
                guardChanged = allocated || g.shares != before
                guards[sku] = g.active ? g : nil
            }
            // A sale in a shop is announced even when the batch netted it out (a cancel, say): that shop's exporter
            // needs it to account for the unit the shop already took off its own count.
            guard stock.quantitiesDiffer(from: change.before) || !change.soldByShop.isEmpty || guardChanged else { continue }
            stock.version = nextVersion
            skus[sku] = stock
            // Every shop whose own orders moved this SKU's reservation, with its net units; the single-origin
            // fields stay for readers of the first contract.
            let origins = change.orderDeltaByShop.filter { $0.value != 0 }
            let origin = origins.count == 1 ? origins.first : nil
            messages.append(
                AvailabilityMessage(
                    sku: sku, available: stock.available, onHand: stock.onHand, reserved: stock.reserved,
                    version: stock.version, causes: change.causes, originShop: origin?.key.description,
                    originQuantity: origin?.value, originQuantities: origins.isEmpty ? nil : origins.byDomainText,
                    originSold: change.soldByShop.isEmpty ? nil : change.soldByShop.byDomainText,
                    originRestocked: change.restockedByShop.isEmpty ? nil : change.restockedByShop.byDomainText,
                    shares: guards[sku]?.shares?.byDomainText, soldTotals: guards[sku]?.soldTotals?.byDomainText,
                    firstReceivedAtMillis: change.firstReceivedAtMillis,
                    computedAtMillis: computedAtMillis))
        }
        pending = [:]
        return messages
    }
}
