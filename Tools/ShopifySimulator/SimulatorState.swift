import Foundation
import Signing

/// All mutable simulator state behind one actor: the shops, their cost buckets and faults, the id sequences
/// and the write log. Each method is one atomic step; webhooks it produces go to the dispatcher without waiting.
actor SimulatorState {
    private var shops: [String: ShopState] = [:]
    private var shopOrder: [String] = []
    private var buckets: [String: LeakyBucket] = [:]
    private var faults: [String: ShopFaults] = [:]
    private var ids = IDSequences()
    private var writeLog: [WriteLogEntry] = []
    /// Mutations applied so far, all shops: numbers each in the step that applies it.
    private var appliedCount = 0
    private var writeSequence = 0
    private var nextLocationID: Int64 = 90_000_000_001
    private let origin = ContinuousClock.now
    let dispatcher: WebhookDispatcher

    init(shops: [ShopConfiguration], dispatcher: WebhookDispatcher) {
        self.dispatcher = dispatcher
        for shop in shops {
            self.shops[shop.domain] = ShopState(configuration: shop)
            self.shopOrder.append(shop.domain)
            self.buckets[shop.domain] = LeakyBucket(plan: shop.plan, now: 0)
            self.faults[shop.domain] = ShopFaults()
        }
    }

    /// Seconds since the simulator started (monotonic), the bucket's clock.
    private var clock: Double {
        let d = origin.duration(to: .now)
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    private func shop(_ domain: String) throws -> ShopState {
        guard let shop = shops[domain] else {
            throw SimulatorError(.unknownShop, "no shop \(domain); known: \(shopOrder.joined(separator: ", "))")
        }
        return shop
    }

    /// Runs `body` on the shop's state and delivers the webhooks it returns.
    ///
    /// The shop is taken out of the dictionary while `body` runs, so its arrays are uniquely referenced and
    /// change in place: a copy would cost O(orders) per checkout and stall a busy drop. Every body checks its
    /// input before it changes anything, so a thrown error leaves the shop as it was.
    private func mutate<T>(_ domain: String, _ body: (inout ShopState, inout IDSequences, Date) throws -> (T, [OutgoingWebhook]))
        throws -> T
    {
        _ = try self.shop(domain)  // an unknown shop: the error names the known ones
        var shop = shops.removeValue(forKey: domain)!
        defer { shops[domain] = shop }
        let now = Date()
        let (result, webhooks) = try body(&shop, &ids, now)
        dispatcher.enqueue(shop: shop.configuration, webhooks: webhooks, now: now)
        return result
    }

    // MARK: - Shops

    func addShop(_ configuration: ShopConfiguration) throws {
        try configuration.validate()
        guard shops[configuration.domain] == nil else {
            throw SimulatorError(.invalidRequest, "shop \(configuration.domain) already exists")
        }
        shops[configuration.domain] = ShopState(configuration: configuration)
        shopOrder.append(configuration.domain)
        buckets[configuration.domain] = LeakyBucket(plan: configuration.plan, now: clock)
        faults[configuration.domain] = ShopFaults()
    }

    func summaries(baseURL: String) -> [ShopSummary] {
        shopOrder.compactMap { shops[$0] }.map {
            ShopSummary(
                domain: $0.domain, adminBaseURL: "\(baseURL)/shops/\($0.domain)", locationId: $0.defaultLocation,
                locationName: $0.locations[0].name, plan: $0.configuration.plan, variants: $0.variants.count,
                orders: $0.orders.count)
        }
    }

    func configuration(of domain: String) throws -> ShopConfiguration { try shop(domain).configuration }

    func addLocation(shop domain: String, name: String, fulfillsOnlineOrders: Bool = true) throws -> Int64 {
        let id = nextLocationID
        nextLocationID += 1
        return try mutate(domain) { shop, _, _ in
            (shop.addLocation(name: name, id: id, fulfillsOnlineOrders: fulfillsOnlineOrders).id, [])
        }
    }

    // MARK: - Catalogue and levels

    func createVariant(shop domain: String, sku: String, available: Int, locationID: Int64?, title: String?) throws
        -> ProductVariant
    {
        try mutate(domain) { shop, ids, now in
            let variant = try shop.createVariant(
                sku: sku, available: available, locationID: locationID, title: title, ids: &ids, now: now)
            return (variant, [shop.productCreatedWebhook(variant)])
        }
    }

    /// Sets a variant's traits; Shopify sends `products/update` for the change.
    func setTraits(shop domain: String, variantId: Int64, traits: VariantTraits) throws {
        try mutate(domain) { shop, _, _ in
            guard let variant = shop.variants.first(where: { $0.variantId == variantId }) else {
                throw SimulatorError(.invalidRequest, "shop \(domain) has no variant \(variantId)")
            }
            shop.variantTraits[variantId] = traits
            return ((), [shop.productWebhook(variant, topic: "products/update")])
        }
    }

    func levelsBySKU(shop domain: String) throws -> [String: Int] { try shop(domain).levelsBySKU() }

    func levels(shop domain: String) throws -> [InventoryLevel] { try shop(domain).levelSnapshots() }

    func variants(shop domain: String) throws -> [ProductVariant] { try shop(domain).variants }

    func levelHistory(shop domain: String) throws -> [LevelChange] { try shop(domain).levelHistory }

    func setAvailable(shop domain: String, sku: String?, inventoryItemID: Int64?, locationID: Int64? = nil, available: Int) throws {
        try mutate(domain) { shop, _, now in
            var item = inventoryItemID
            if item == nil, let sku {
                guard let v = shop.variants(withSKU: sku).first else {
                    throw SimulatorError(.unknownSKU, "shop \(domain) lists no variant with SKU \(sku)")
                }
                item = v.inventoryItemId
            }
            guard let item else { throw SimulatorError(.invalidRequest, "give sku or inventoryItemId") }
            return ((), try shop.setAvailable(item: item, location: locationID, available: available, now: now))
        }
    }

    // MARK: - Storefront

    func checkout(shop domain: String, lines: [CheckoutLine], buyer: String?) throws -> Order {
        try mutate(domain) { shop, ids, now in try shop.checkout(lines: lines, buyer: buyer, ids: &ids, now: now) }
    }

    func cancel(shop domain: String, orderID: Int64, restock: Bool, reason: String) throws -> Order {
        try mutate(domain) { shop, _, now in try shop.cancel(orderID: orderID, restock: restock, reason: reason, now: now) }
    }

    func edit(shop domain: String, orderID: Int64, lineItemID: Int64, currentQuantity: Int) throws -> Order {
        try mutate(domain) { shop, _, now in
            try shop.edit(orderID: orderID, lineItemID: lineItemID, currentQuantity: currentQuantity, now: now)
        }
    }

    func refund(shop domain: String, orderID: Int64, lineItemID: Int64, quantity: Int, restockType: RestockType) throws
        -> Refund
    {
        try mutate(domain) { shop, ids, now in
            try shop.refund(orderID: orderID, lineItemID: lineItemID, quantity: quantity, restockType: restockType, ids: &ids, now: now)
        }
    }

    func fulfill(shop domain: String, orderID: Int64) throws -> Order {
        try mutate(domain) { shop, _, now in try shop.fulfill(orderID: orderID, now: now) }
    }

    func orders(shop domain: String) throws -> [Order] { try shop(domain).orders }

    func order(shop domain: String, id: Int64) throws -> Order { try shop(domain).order(id) }

    // MARK: - Faults

    func faults(of domain: String) throws -> ShopFaults {
        _ = try shop(domain)
        return faults[domain] ?? ShopFaults()
    }

    func idempotencyKeysInFlight(shop domain: String) throws -> [String] { try shop(domain).idempotency.keysInFlight }

    func setFaults(_ newFaults: ShopFaults, shop domain: String, emptyBucket: Bool) throws {
        _ = try shop(domain)
        faults[domain] = newFaults
        if emptyBucket || newFaults.throttled { buckets[domain]?.drain(at: clock) }
    }

    /// Points currently available in a shop's bucket.
    func bucketStatus(shop domain: String) throws -> (available: Double, maximum: Double, restoreRate: Double) {
        _ = try shop(domain)
        let bucket = buckets[domain]!
        return (bucket.currentlyAvailable(at: clock), bucket.maximumAvailable, bucket.restoreRate)
    }

    // MARK: - Admin API

    enum Authorization: Sendable {
        case unknownShop
        case unauthorized
        case authorized(ShopFaults)
    }

    func authorize(shop domain: String, token: String?) -> Authorization {
        guard let shop = shops[domain] else { return .unknownShop }
        let faults = faults[domain] ?? ShopFaults()
        guard !faults.tokenRevoked, let token,
            constantTimeEquals(Array(token.utf8), Array(shop.configuration.accessToken.utf8))
        else { return .unauthorized }
        return .authorized(faults)
    }

    enum Admission: Sendable {
        case throttled(cost: JSONValue, retryAfter: Int, as429: Bool)
        case run(cost: JSONValue)
        case answer(data: JSONValue, cost: JSONValue, result: String)
    }

    /// Charges the requested cost (or refuses: throttled) and, for a mutation, admits its idempotency key.
    func admit(shop domain: String, operation: AdminOperation) -> Admission {
        let now = clock
        let faults = faults[domain] ?? ShopFaults()
        var bucket = buckets[domain]!
        if faults.throttled { bucket.drain(at: now) }
        let requested = requestedCost(of: operation, shop: domain)
        guard bucket.consume(requested, at: now) else {
            buckets[domain] = bucket
            return .throttled(
                cost: Self.cost(requested: requested, actual: nil, bucket: bucket, now: now),
                retryAfter: bucket.secondsUntilAvailable(requested, at: now), as429: faults.throttle429)
        }
        buckets[domain] = bucket
        let cost = Self.cost(requested: requested, actual: requested, bucket: bucket, now: now)
        guard case .setQuantities(let input, let key) = operation else { return .run(cost: cost) }
        switch shops[domain]!.idempotency.admit(key: key, fingerprint: input.fingerprint) {
        case .execute:
            return .run(cost: cost)
        case .replay(let response):
            return .answer(data: ["inventorySetQuantities": response], cost: cost, result: "replayed")
        case .reject(let code, let message):
            let payload: JSONValue = [
                "inventoryAdjustmentGroup": .null,
                "userErrors": [["code": .string(code), "field": ["idempotencyKey"], "message": .string(message)]],
            ]
            return .answer(data: ["inventorySetQuantities": payload], cost: cost, result: code)
        }
    }

    /// Ends an admitted mutation that did not run: `failed` marks the key so reuse fails (abandoned hang),
    /// otherwise the key is free again (5xx).
    func abandon(shop domain: String, key: String, failed: Bool) {
        if failed { shops[domain]?.idempotency.fail(key: key) } else { shops[domain]?.idempotency.release(key: key) }
    }

    /// What `operation` asks of `domain`'s bucket before it runs (with the shop's ``ShopFaults/costScale``).
    func requestedCost(of operation: AdminOperation, shop domain: String) -> Double {
        operation.requestedCost * (faults[domain]?.costScale ?? 1)
    }

    /// Runs an admitted operation: `data` (or a top-level error), the write-log result, and, for a mutation that
    /// changed levels, its place among all applied mutations (``WriteLogEntry/appliedOrder``).
    func execute(
        shop domain: String, operation: AdminOperation
    ) -> (Result<JSONValue, GraphQLError>, result: String, cost: JSONValue, appliedOrder: Int?) {
        let now = Date()
        var shop = shops.removeValue(forKey: domain)!  // out of the dictionary: changed in place, not copied
        let requested = requestedCost(of: operation, shop: domain)
        let scale = faults[domain]?.costScale ?? 1
        var actual = requested
        let outcome: (Result<JSONValue, GraphQLError>, String)
        var appliedOrder: Int?
        switch operation {
        case .setQuantities(let input, let key):
            let result = shop.setQuantities(input, now: now)
            shop.idempotency.answer(key: key, response: result.payload)
            dispatcher.enqueue(shop: shop.configuration, webhooks: result.webhooks, now: now)
            outcome = (.success(["inventorySetQuantities": result.payload]), result.outcome)
            if result.outcome == "applied" {
                appliedCount += 1
                appliedOrder = appliedCount
            }
        case .productVariants(let first, let sku, let after):
            let lag = Double(faults[domain]?.searchLagMs ?? 0) / 1000
            let (data, count) = shop.productVariantsQuery(first: first, sku: sku, after: after, now: now, searchLag: lag)
            actual = AdminOperation.connectionCost(count, node: AdminOperation.variantNodeCost) * scale
            outcome = (.success(data), "ok")
        case .appInstallation:
            outcome = (.success(["currentAppInstallation": ["accessScopes": .array(shop.configuration.accessScopes.map { ["handle": .string($0)] })]]), "ok")
        case .locations(let first):
            let (data, count) = shop.locationsQuery(first: first)
            actual = AdminOperation.connectionCost(count, node: AdminOperation.locationNodeCost) * scale
            outcome = (.success(data), "ok")
        case .inventoryItemNodes(let ids, let locationID, let names):
            do {
                let data = try shop.inventoryItemNodesQuery(ids: ids, locationID: locationID, names: names)
                let found = data["nodes"]?.arrayValue?.filter { $0 != .null }.count ?? 0
                actual = AdminOperation.itemNodesCost(found) * scale
                outcome = (.success(data), "ok")
            } catch {
                outcome = (.failure(error), error.code)
            }
        }
        shops[domain] = shop
        let t = clock
        if actual < requested { buckets[domain]!.refund(requested - actual, at: t) }
        return (outcome.0, outcome.1, Self.cost(requested: requested, actual: actual, bucket: buckets[domain]!, now: t), appliedOrder)
    }

    /// `extensions.cost` with the bucket as it stands.
    /// `requested`: the cost of a query refused before it ran (charged nothing: no actual cost).
    func costOnly(shop domain: String, requested: Double = 0) -> JSONValue {
        guard let bucket = buckets[domain] else { return .null }
        return Self.cost(requested: requested, actual: requested > 0 ? nil : 0, bucket: bucket, now: clock)
    }

    static func cost(requested: Double, actual: Double?, bucket: LeakyBucket, now: Double) -> JSONValue {
        [
            "requestedQueryCost": .double(requested),
            "actualQueryCost": actual.map { .double($0) } ?? .null,
            "throttleStatus": [
                "maximumAvailable": .double(bucket.maximumAvailable),
                "currentlyAvailable": .double((bucket.currentlyAvailable(at: now) * 10).rounded(.down) / 10),
                "restoreRate": .double(bucket.restoreRate),
            ],
        ]
    }

    // MARK: - Write log

    func log(_ make: (Int) -> WriteLogEntry) {
        writeSequence += 1
        writeLog.append(make(writeSequence))
    }

    func writes(shop domain: String?, since: Int) -> [WriteLogEntry] {
        writeLog.filter { $0.sequence > since && (domain == nil || $0.shop == domain) }
    }
}
