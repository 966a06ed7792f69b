import Foundation

/// One line of a checkout: a SKU (or a specific variant) and a quantity.
public struct CheckoutLine: Sendable, Codable, Equatable {
    /// The SKU bought; the first-created variant with it is used unless `variantId` is given.
    public var sku: String?
    /// A specific variant, for SKUs several variants share.
    public var variantId: Int64?
    /// Units bought, ≥ 1.
    public var quantity: Int

    /// A line for `quantity` units of `sku` (or of the variant `variantId`).
    public init(sku: String? = nil, variantId: Int64? = nil, quantity: Int) {
        self.sku = sku
        self.variantId = variantId
        self.quantity = quantity
    }
}

/// How a refunded line's units are handled, as in Shopify's `restock_type`.
public enum RestockType: String, Sendable, Codable, CaseIterable {
    /// Unfulfilled units released back to stock.
    case cancel
    /// Fulfilled units returned to stock.
    case `return`
    /// Units refunded, stock unchanged.
    case noRestock = "no_restock"
    /// Deprecated: units put back to stock.
    case legacyRestock = "legacy_restock"
}

extension ShopState {
    // MARK: - Checkout

    /// Places an order when every line's `available` covers it, lowering stock at once (as Shopify does);
    /// throws ``SimulatorError/Code/insufficientStock`` and changes nothing otherwise.
    mutating func checkout(
        lines: [CheckoutLine], buyer: String?, ids: inout IDSequences, now: Date
    ) throws -> (Order, [OutgoingWebhook]) {
        guard !lines.isEmpty else { throw SimulatorError(.invalidRequest, "checkout needs at least one line") }
        var resolved: [(ProductVariant, LevelKey, Int)] = []
        var needed: [LevelKey: Int] = [:]
        for line in lines {
            guard line.quantity >= 1 else {
                throw SimulatorError(.invalidRequest, "checkout quantity must be ≥ 1 (got \(line.quantity))")
            }
            let variant: ProductVariant
            if let id = line.variantId {
                guard let v = variants.first(where: { $0.variantId == id }) else {
                    throw SimulatorError(.unknownSKU, "shop \(domain) has no variant \(id)")
                }
                variant = v
            } else if let sku = line.sku {
                guard let v = variants(withSKU: sku).first else {
                    throw SimulatorError(.unknownSKU, "shop \(domain) lists no variant with SKU \(sku); create it first")
                }
                variant = v
            } else {
                throw SimulatorError(.invalidRequest, "a checkout line needs sku or variantId")
            }
            let traits = traits(of: variant)
            let beyond = !traits.tracked || traits.continueSelling
            guard let location = routedLocation(of: variant.inventoryItemId, quantity: line.quantity, beyondStock: beyond) else {
                throw SimulatorError(.insufficientStock, "SKU \(variant.sku) is not stocked anywhere in \(domain)")
            }
            let key = LevelKey(item: variant.inventoryItemId, location: location)
            needed[key, default: 0] += line.quantity
            resolved.append((variant, key, line.quantity))
        }
        for (key, quantity) in needed {
            let available = levels[key]?.available ?? 0
            // An untracked item or a CONTINUE variant sells whatever its level says.
            if let v = variant(forItem: key.item), !traits(of: v).tracked || traits(of: v).continueSelling { continue }
            if available < quantity {
                let sku = variant(forItem: key.item)?.sku ?? "?"
                throw SimulatorError(
                    .insufficientStock, "shop \(domain): SKU \(sku) has \(available) available, checkout asked for \(quantity)")
            }
        }
        var webhooks: [OutgoingWebhook] = []
        let orderID = IDSequences.take(&ids.order)
        let stamp = rest(now)
        var lineItems: [LineItem] = []
        for (variant, key, quantity) in resolved {
            let id = IDSequences.take(&ids.lineItem)
            lineLocations[id] = key.location
            if traits(of: variant).tracked { commit(key, quantity) }
            lineItems.append(
                LineItem(
                    id: id, adminGraphqlApiId: "gid://shopify/LineItem/\(id)", variantId: variant.variantId,
                    productId: variant.productId, sku: variant.sku, title: variant.title, name: variant.title,
                    price: "10.00", quantity: quantity, currentQuantity: quantity, fulfillableQuantity: quantity,
                    fulfillmentStatus: nil, requiresShipping: true, variantInventoryManagement: "shopify"))
        }
        let total = lineItems.reduce(0) { $0 + $1.quantity * 10 }
        let order = Order(
            id: orderID, adminGraphqlApiId: "gid://shopify/Order/\(orderID)", name: "#\(nextOrderNumber)",
            orderNumber: nextOrderNumber, email: buyer, createdAt: stamp, updatedAt: stamp, processedAt: stamp,
            cancelledAt: nil, cancelReason: nil, closedAt: nil, currency: "EUR", financialStatus: "paid",
            fulfillmentStatus: nil, totalPrice: "\(total).00", test: false, lineItems: lineItems, refunds: [])
        nextOrderNumber += 1
        orderIndex[orderID] = orders.count
        orders.append(order)
        webhooks.append(Self.orderWebhook("orders/create", order))
        for (key, quantity) in needed.sorted(by: { $0.key.item < $1.key.item }) {
            // Shopify counts down only tracked items.
            if let v = variant(forItem: key.item), !traits(of: v).tracked { continue }
            if let hook = setLevel(key, to: levels[key]!.available - quantity, now: now, cause: "order \(orderID) placed") {
                webhooks.append(hook)
            }
        }
        return (order, webhooks)
    }

    // MARK: - Order changes

    func order(_ id: Int64) throws -> Order {
        guard let index = orderIndex[id] else { throw SimulatorError(.unknownOrder, "shop \(domain) has no order \(id)") }
        return orders[index]
    }

    /// Cancels an order; with `restock`, its unfulfilled units go back to stock.
    mutating func cancel(orderID: Int64, restock: Bool, reason: String, now: Date) throws -> (Order, [OutgoingWebhook]) {
        var order = try self.order(orderID)
        guard order.cancelledAt == nil else {
            throw SimulatorError(.orderState, "order \(orderID) in \(domain) is already cancelled")
        }
        var webhooks: [OutgoingWebhook] = []
        var levelHooks: [OutgoingWebhook] = []
        for i in order.lineItems.indices {
            let units = order.lineItems[i].fulfillableQuantity
            order.lineItems[i].currentQuantity -= units
            order.lineItems[i].fulfillableQuantity = 0
            uncommit(order.lineItems[i], units: units)
            if restock, units > 0, let hook = restockLine(order.lineItems[i], units: units, now: now, cause: "order \(orderID) cancelled") {
                levelHooks.append(hook)
            }
        }
        order.cancelledAt = rest(now)
        order.cancelReason = reason
        order.updatedAt = rest(now)
        store(order)
        webhooks.append(Self.orderWebhook("orders/cancelled", order))
        webhooks.append(Self.orderWebhook("orders/updated", order))
        return (order, webhooks + levelHooks)
    }

    /// Changes a line's current quantity (an order edit). Fewer units go back to stock; more units need stock.
    mutating func edit(orderID: Int64, lineItemID: Int64, currentQuantity: Int, now: Date) throws -> (Order, [OutgoingWebhook]) {
        var order = try self.order(orderID)
        guard order.cancelledAt == nil else { throw SimulatorError(.orderState, "order \(orderID) in \(domain) is cancelled") }
        guard let i = order.lineItems.firstIndex(where: { $0.id == lineItemID }) else {
            throw SimulatorError(.unknownLineItem, "order \(orderID) has no line item \(lineItemID)")
        }
        let line = order.lineItems[i]
        let fulfilled = line.currentQuantity - line.fulfillableQuantity
        guard currentQuantity >= fulfilled else {
            throw SimulatorError(.orderState, "line item \(lineItemID) has \(fulfilled) fulfilled units; current_quantity cannot go below that")
        }
        let delta = currentQuantity - line.currentQuantity
        var levelHooks: [OutgoingWebhook] = []
        if delta > 0 {
            guard let item = itemOf(line), let location = lineLocations[line.id] ?? sellingLocation(of: item) else {
                throw SimulatorError(.insufficientStock, "line item \(lineItemID) has no stocked inventory item")
            }
            let key = LevelKey(item: item, location: location)
            let available = levels[key]?.available ?? 0
            guard available >= delta else {
                throw SimulatorError(.insufficientStock, "shop \(domain): SKU \(line.sku ?? "?") has \(available) available, edit adds \(delta)")
            }
            if let hook = setLevel(key, to: available - delta, now: now, cause: "order \(orderID) edited") { levelHooks.append(hook) }
            commit(key, delta)
        } else if delta < 0 {
            uncommit(line, units: -delta)
            if let hook = restockLine(line, units: -delta, now: now, cause: "order \(orderID) edited") { levelHooks.append(hook) }
        }
        order.lineItems[i].currentQuantity = currentQuantity
        order.lineItems[i].fulfillableQuantity += delta
        order.updatedAt = rest(now)
        store(order)
        return (order, [Self.orderWebhook("orders/edited", order), Self.orderWebhook("orders/updated", order)] + levelHooks)
    }

    /// Refunds units of one line, restocking them as `restockType` says.
    mutating func refund(
        orderID: Int64, lineItemID: Int64, quantity: Int, restockType: RestockType, ids: inout IDSequences, now: Date
    ) throws -> (Refund, [OutgoingWebhook]) {
        var order = try self.order(orderID)
        guard let i = order.lineItems.firstIndex(where: { $0.id == lineItemID }) else {
            throw SimulatorError(.unknownLineItem, "order \(orderID) has no line item \(lineItemID)")
        }
        let line = order.lineItems[i]
        let fulfilled = line.currentQuantity - line.fulfillableQuantity
        guard quantity >= 1, quantity <= line.currentQuantity else {
            throw SimulatorError(.invalidRequest, "refund quantity must be 1…\(line.currentQuantity) for line item \(lineItemID)")
        }
        var restocked = false
        switch restockType {
        case .cancel:
            guard quantity <= line.fulfillableQuantity else {
                throw SimulatorError(.invalidRequest, "restock_type cancel needs unfulfilled units; line item \(lineItemID) has \(line.fulfillableQuantity)")
            }
            order.lineItems[i].fulfillableQuantity -= quantity
            uncommit(line, units: quantity)
            restocked = true
        case .return:
            guard quantity <= fulfilled else {
                throw SimulatorError(.invalidRequest, "restock_type return needs fulfilled units; line item \(lineItemID) has \(fulfilled)")
            }
            restocked = true
        case .noRestock, .legacyRestock:
            order.lineItems[i].fulfillableQuantity -= min(quantity, line.fulfillableQuantity)
            uncommit(line, units: min(quantity, line.fulfillableQuantity))
            restocked = restockType == .legacyRestock
        }
        order.lineItems[i].currentQuantity -= quantity
        var levelHooks: [OutgoingWebhook] = []
        if restocked, let hook = restockLine(line, units: quantity, now: now, cause: "order \(orderID) refunded") {
            levelHooks.append(hook)
        }
        let refundID = IDSequences.take(&ids.refund)
        let refund = Refund(
            id: refundID, adminGraphqlApiId: "gid://shopify/Refund/\(refundID)", orderId: orderID, createdAt: rest(now),
            processedAt: rest(now), note: nil, restock: restocked,
            refundLineItems: [
                RefundLineItem(
                    id: IDSequences.take(&ids.refundLineItem), lineItemId: lineItemID, quantity: quantity,
                    restockType: restockType.rawValue, locationId: restocked ? lineLocations[line.id] ?? itemOf(line).flatMap(sellingLocation(of:)) : nil,
                    lineItem: order.lineItems[i])
            ])
        order.refunds.append(refund)
        order.updatedAt = rest(now)
        store(order)
        let refundBody = (try? Self.encoder.encode(refund)).map { [UInt8]($0) } ?? []
        return (
            refund,
            [OutgoingWebhook(topic: "refunds/create", body: refundBody), Self.orderWebhook("orders/updated", order)] + levelHooks
        )
    }

    /// Fulfils every unfulfilled unit of an order (available is unchanged: the units were already taken).
    mutating func fulfill(orderID: Int64, now: Date) throws -> (Order, [OutgoingWebhook]) {
        var order = try self.order(orderID)
        guard order.cancelledAt == nil else { throw SimulatorError(.orderState, "order \(orderID) in \(domain) is cancelled") }
        for i in order.lineItems.indices {
            // Fulfilled units leave `committed` (and `on_hand`): they are shipped.
            uncommit(order.lineItems[i], units: order.lineItems[i].fulfillableQuantity)
            order.lineItems[i].fulfillableQuantity = 0
            if order.lineItems[i].currentQuantity > 0 { order.lineItems[i].fulfillmentStatus = "fulfilled" }
        }
        order.fulfillmentStatus = "fulfilled"
        order.updatedAt = rest(now)
        store(order)
        return (order, [Self.orderWebhook("orders/fulfilled", order), Self.orderWebhook("orders/updated", order)])
    }

    // MARK: - Helpers

    private mutating func store(_ order: Order) {
        if let index = orderIndex[order.id] { orders[index] = order }
    }

    private func itemOf(_ line: LineItem) -> Int64? {
        variants.first { $0.variantId == line.variantId }?.inventoryItemId
    }

    /// Takes `units` of an unfulfilled line out of `committed` at the location it was routed to.
    private mutating func uncommit(_ line: LineItem, units: Int) {
        guard units > 0, let item = itemOf(line), let location = lineLocations[line.id] ?? sellingLocation(of: item) else { return }
        commit(LevelKey(item: item, location: location), -units)
    }

    private mutating func restockLine(_ line: LineItem, units: Int, now: Date, cause: String) -> OutgoingWebhook? {
        guard let item = itemOf(line), let location = lineLocations[line.id] ?? sellingLocation(of: item) else { return nil }
        let key = LevelKey(item: item, location: location)
        return setLevel(key, to: (levels[key]?.available ?? 0) + units, now: now, cause: cause)
    }

    static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    static func orderWebhook(_ topic: String, _ order: Order) -> OutgoingWebhook {
        OutgoingWebhook(topic: topic, body: (try? encoder.encode(order)).map { [UInt8]($0) } ?? [])
    }
}
