import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// A running Shopify simulator: many shops on one loopback port, each under `/shops/<domain>`, plus the
/// control API under `/_control/`. Start it with ``start(_:)``, stop it with ``shutdown()``.
///
/// Every control-API call is also a Swift method here, for in-process tests.
public final class Simulator: Sendable {
    /// The port the server is bound to.
    public let port: Int
    /// The configuration it was started with (shops added later are not in it).
    public let configuration: SimulatorConfiguration
    let state: SimulatorState
    let dispatcher: WebhookDispatcher
    let logger: Logger
    private let httpClient: HTTPClient
    private let runTask: Mutex<Task<Void, Never>?>
    private let stopped = Mutex(false)

    private init(
        port: Int, configuration: SimulatorConfiguration, state: SimulatorState, dispatcher: WebhookDispatcher,
        logger: Logger, httpClient: HTTPClient
    ) {
        self.port = port
        self.configuration = configuration
        self.state = state
        self.dispatcher = dispatcher
        self.logger = logger
        self.httpClient = httpClient
        self.runTask = Mutex(nil)
    }

    // MARK: - Lifecycle

    /// Validates `configuration`, binds the server and starts webhook delivery; returns once it accepts requests.
    public static func start(_ configuration: SimulatorConfiguration) async throws -> Simulator {
        try configuration.validate()
        var logger = Logger(label: "shopify-sim")
        logger.logLevel = Logger.Level(rawValue: configuration.logLevel) ?? .warning
        var clientConfiguration = HTTPClient.Configuration()
        clientConfiguration.timeout = .init(connect: .seconds(1), read: .seconds(5))
        clientConfiguration.redirectConfiguration = .disallow
        clientConfiguration.connectionPool = .init(
            idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: configuration.webhookConcurrency)
        let httpClient = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: clientConfiguration)
        let dispatcher = WebhookDispatcher(
            ingestURLs: configuration.ingestURL.map { [$0] + configuration.moreIngestURLs } ?? [], timeScale: configuration.timeScale,
            concurrency: configuration.webhookConcurrency, client: httpClient, logger: logger)
        let state = SimulatorState(shops: configuration.shops, dispatcher: dispatcher)

        let boundPort = StartupSignal()
        let router = Router()
        // The handlers reach the simulator through this box, filled once the port is known.
        let box = SimulatorBox()
        Self.addRoutes(to: router, box: box)
        // HummingbirdCore logs the cancellation of open connections at shutdown as errors; keep that quiet
        // unless the simulator's own log level asks for detail.
        var serverLogger = logger
        serverLogger.logLevel = logger.logLevel <= .info ? logger.logLevel : .critical
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
            onServerRunning: { channel in boundPort.succeed(channel.localAddress?.port ?? configuration.port) },
            logger: serverLogger)
        let task = Task {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    do {
                        try await app.run()
                    } catch {
                        boundPort.fail(SimulatorError(.startup, "cannot serve on \(configuration.host):\(configuration.port): \(error)"))
                    }
                    boundPort.fail(SimulatorError(.startup, "server stopped before it started"))
                }
                group.addTask { await dispatcher.run() }
            }
        }
        let port: Int
        do {
            port = try await boundPort.value()
        } catch {
            task.cancel()
            await task.value
            try? await httpClient.shutdown()
            throw error
        }
        let simulator = Simulator(
            port: port, configuration: configuration, state: state, dispatcher: dispatcher, logger: logger, httpClient: httpClient)
        simulator.runTask.withLock { $0 = task }
        box.set(simulator)
        logger.info("shopify simulator listening", metadata: ["port": "\(port)", "shops": "\(configuration.shops.count)"])
        return simulator
    }

    /// Stops the server and all webhook deliveries (pending ones are abandoned). Safe to call twice.
    public func shutdown() async {
        let first = stopped.withLock { s -> Bool in
            defer { s = true }
            return !s
        }
        guard first else { return }
        dispatcher.finish()
        let task = runTask.withLock { $0 }
        task?.cancel()
        await task?.value
        try? await httpClient.shutdown()
    }

    // MARK: - Addresses

    /// `http://<host>:<port>`.
    public var baseURL: String { "http://\(configuration.host == "0.0.0.0" ? "127.0.0.1" : configuration.host):\(port)" }

    /// A shop's Admin API base URL: `http://127.0.0.1:<port>/shops/<domain>`.
    public func adminBaseURL(shop: String) -> String { "\(baseURL)/shops/\(shop)" }

    /// A shop's GraphQL endpoint for `apiVersion`.
    public func graphQLURL(shop: String, apiVersion: String = "2026-10") -> String {
        "\(adminBaseURL(shop: shop))/admin/api/\(apiVersion)/graphql.json"
    }

    // MARK: - Shops and catalogue

    /// The shops served (no tokens or secrets).
    public func shops() async -> [ShopSummary] { await state.summaries(baseURL: baseURL) }

    /// Adds a shop at run time.
    public func addShop(_ shop: ShopConfiguration) async throws { try await state.addShop(shop) }

    /// A shop's configuration (its location id, plan, scopes, …).
    public func configuration(shop: String) async throws -> ShopConfiguration { try await state.configuration(of: shop) }

    /// Adds a location to a shop (for `ITEM_NOT_STOCKED_AT_LOCATION` and multi-location cases); returns its id.
    public func addLocation(shop: String, name: String, fulfillsOnlineOrders: Bool = true) async throws -> Int64 {
        try await state.addLocation(shop: shop, name: name, fulfillsOnlineOrders: fulfillsOnlineOrders)
    }

    /// Creates a product variant and its inventory item, stocked at `locationID` (default: the shop's location).
    /// Several variants may share a SKU.
    @discardableResult
    public func createVariant(shop: String, sku: String, available: Int, locationID: Int64? = nil, title: String? = nil)
        async throws -> ProductVariant
    {
        try await state.createVariant(shop: shop, sku: sku, available: available, locationID: locationID, title: title)
    }

    /// Makes a variant untracked, `CONTINUE` or a bundle parent (``VariantTraits``); Shopify sends `products/update`.
    public func setTraits(shop: String, variantId: Int64, _ traits: VariantTraits) async throws {
        try await state.setTraits(shop: shop, variantId: variantId, traits: traits)
    }

    /// The shop's variants in creation order.
    public func variants(shop: String) async throws -> [ProductVariant] { try await state.variants(shop: shop) }

    /// `available` per SKU (for a SKU several variants share, the first-created one's).
    public func levels(shop: String) async throws -> [String: Int] { try await state.levelsBySKU(shop: shop) }

    /// Every inventory level of the shop.
    public func inventoryLevels(shop: String) async throws -> [InventoryLevel] { try await state.levels(shop: shop) }

    /// A merchant's edit in the admin: sets `available` outright (fires `inventory_levels/update`), at the item's first
    /// stocking location or at `locationID`, where the item is stocked first if it was not (as activating inventory at
    /// a location does).
    public func setAvailable(
        shop: String, sku: String? = nil, inventoryItemID: Int64? = nil, locationID: Int64? = nil, available: Int
    ) async throws {
        try await state.setAvailable(shop: shop, sku: sku, inventoryItemID: inventoryItemID, locationID: locationID, available: available)
    }

    // MARK: - Storefront

    /// A customer buys: accepted only when `available` covers every line, which it lowers at once;
    /// fires `orders/create` and `inventory_levels/update`. Throws ``SimulatorError/Code/insufficientStock``.
    @discardableResult
    public func checkout(shop: String, sku: String, quantity: Int, buyer: String? = nil) async throws -> Order {
        try await state.checkout(shop: shop, lines: [CheckoutLine(sku: sku, quantity: quantity)], buyer: buyer)
    }

    /// A checkout of several lines, all or nothing.
    @discardableResult
    public func checkout(shop: String, lines: [CheckoutLine], buyer: String? = nil) async throws -> Order {
        try await state.checkout(shop: shop, lines: lines, buyer: buyer)
    }

    /// Cancels an order (restocking unfulfilled units unless `restock` is false);
    /// fires `orders/cancelled`, `orders/updated`, `inventory_levels/update`.
    @discardableResult
    public func cancelOrder(shop: String, orderID: Int64, restock: Bool = true, reason: String = "customer") async throws -> Order {
        try await state.cancel(shop: shop, orderID: orderID, restock: restock, reason: reason)
    }

    /// Edits a line's current quantity; fires `orders/edited`, `orders/updated` (and a level update).
    @discardableResult
    public func editOrder(shop: String, orderID: Int64, lineItemID: Int64, currentQuantity: Int) async throws -> Order {
        try await state.edit(shop: shop, orderID: orderID, lineItemID: lineItemID, currentQuantity: currentQuantity)
    }

    /// Refunds units of a line; fires `refunds/create`, `orders/updated` (and a level update when restocked).
    @discardableResult
    public func refund(shop: String, orderID: Int64, lineItemID: Int64, quantity: Int, restockType: RestockType) async throws
        -> Refund
    {
        try await state.refund(shop: shop, orderID: orderID, lineItemID: lineItemID, quantity: quantity, restockType: restockType)
    }

    /// Fulfils all unfulfilled units; fires `orders/fulfilled`, `orders/updated`.
    @discardableResult
    public func fulfill(shop: String, orderID: Int64) async throws -> Order { try await state.fulfill(shop: shop, orderID: orderID) }

    /// The shop's orders, oldest first.
    public func orders(shop: String) async throws -> [Order] { try await state.orders(shop: shop) }

    // MARK: - Logs

    /// Admin API calls after `since` (a ``WriteLogEntry/sequence``), for one shop or all.
    public func writeLog(shop: String? = nil, since: Int = 0) async -> [WriteLogEntry] {
        await state.writes(shop: shop, since: since)
    }

    /// Every change of the shop's levels with its cause, oldest first (the newest 200,000).
    public func levelHistory(shop: String) async throws -> [LevelChange] { try await state.levelHistory(shop: shop) }

    /// Webhook delivery attempts after `since` (a ``WebhookDeliveryRecord/sequence``).
    public func webhookDeliveries(since: Int = 0) -> [WebhookDeliveryRecord] { dispatcher.deliveries(since: since) }

    /// Webhooks queued or being retried.
    public var pendingWebhooks: Int { dispatcher.pending }

    /// Waits until no webhook is queued or being retried; false when `timeout` passed first.
    public func waitForWebhooks(timeout: Duration = .seconds(10)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while dispatcher.pending > 0 {
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }

    /// Idempotency keys of a shop's mutations that were admitted and have not answered yet.
    public func idempotencyKeysInFlight(shop: String) async throws -> [String] {
        try await state.idempotencyKeysInFlight(shop: shop)
    }

    // MARK: - Faults

    /// A shop's current Admin API faults.
    public func faults(shop: String) async throws -> ShopFaults { try await state.faults(of: shop) }

    /// Replaces a shop's Admin API faults; `emptyBucket` also drains its cost bucket once.
    public func setFaults(_ faults: ShopFaults, shop: String, emptyBucket: Bool = false) async throws {
        try await state.setFaults(faults, shop: shop, emptyBucket: emptyBucket)
    }

    /// The webhook delivery faults (all shops).
    public var webhookFaults: WebhookFaults { dispatcher.faults }

    /// Replaces the webhook delivery faults; they apply to webhooks queued from now on.
    public func setWebhookFaults(_ faults: WebhookFaults) { dispatcher.faults = faults }
}

/// Hands the bound port from the server's start callback to ``Simulator/start(_:)`` exactly once.
final class StartupSignal: Sendable {
    private enum State {
        case waiting(CheckedContinuation<Int, any Error>?)
        case done(Result<Int, any Error>)
    }

    private let state = Mutex(State.waiting(nil))

    func succeed(_ port: Int) { complete(.success(port)) }
    func fail(_ error: any Error) { complete(.failure(error)) }

    private func complete(_ result: Result<Int, any Error>) {
        let waiter = state.withLock { s -> CheckedContinuation<Int, any Error>? in
            guard case .waiting(let continuation) = s else { return nil }
            s = .done(result)
            return continuation
        }
        waiter?.resume(with: result)
    }

    func value() async throws -> Int {
        try await withCheckedThrowingContinuation { continuation in
            let ready = state.withLock { s -> Result<Int, any Error>? in
                switch s {
                case .waiting: s = .waiting(continuation); return nil
                case .done(let result): return result
                }
            }
            if let ready { continuation.resume(with: ready) }
        }
    }
}

/// The simulator, for route handlers built before it exists.
final class SimulatorBox: Sendable {
    private let simulator = Mutex<Simulator?>(nil)
    func set(_ value: Simulator) { simulator.withLock { $0 = value } }
    var value: Simulator? { simulator.withLock { $0 } }
}
