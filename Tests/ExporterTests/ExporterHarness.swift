import AMQP
import Contracts
import Foundation
import Logging
import ShopifySimulator
import StockwireTestSupport
import Synchronization
import Testing

@testable import exporter

/// A simulator with shops, an exporter writing them through the real broker, and a publisher of availability
/// messages: the exporter's whole world, started per test.
final class ExporterHarness: Sendable {
    let simulator: Simulator
    let shops: [String]
    let connection: AMQPConnection
    let app: ExporterApplication
    private let task: Task<Void, any Error>
    private let directory: URL
    let prefix: String

    /// Starts `count` shops (domains unique to this test) with `plan`, and an exporter for them; `token` gives each
    /// shop's Admin API token, `logger` replaces the quiet default (tests that read the log); with `brokerPort` the
    /// exporter reaches the broker on 127.0.0.1 at that port (a `TCPProxy` that can cut its connection).
    static func start(
        shops count: Int, plan: RateLimitPlan = .standard, tuning: ShopWriter.Tuning = .init(),
        token: @Sendable (String) -> String = { "token-\($0)" }, logger: Logger? = nil, configureLocations: Bool = false,
        brokerPort: Int? = nil
    ) async throws -> ExporterHarness {
        let prefix = "t" + UUID().uuidString.prefix(8).lowercased()
        let domains = (0..<count).map { "\(prefix)-\($0).myshopify.com" }
        let simulator = try await Simulator.start(
            SimulatorConfiguration(
                shops: domains.map { ShopConfiguration(domain: $0, accessToken: token($0), webhookSecret: "s", plan: plan) }))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("exporter-\(prefix)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var settings: [ShopSettings] = []
        for domain in domains {
            let tokenFile = directory.appendingPathComponent("\(domain).token")
            try "\(token(domain))\n".write(to: tokenFile, atomically: true, encoding: .utf8)
            // configureLocations: the shops file names each shop's location (location_id), as it must once a shop
            // has several.
            let location =
                configureLocations
                ? "gid://shopify/Location/\(try await simulator.configuration(shop: domain).locationID)" : nil
            settings.append(
                ShopSettings(
                    domain: try ShopDomain(domain), adminURL: simulator.adminBaseURL(shop: domain), tokenFile: tokenFile.path,
                    locationId: location))
        }
        var quiet = Logger(label: "exporter-test")
        quiet.logLevel = .error
        let logger = logger ?? quiet
        let config = try TestBroker.configuration("exporter-test", port: brokerPort)
        let connection = AMQPConnection(
            configuration: config,
            topology: StockwireTopology.exporter(
                shops: domains, availabilityExchange: "test.availability.\(prefix)", catalogExchange: "test.catalog.\(prefix)"),
            logger: logger)
        connection.start()
        try await connection.waitUntilConnected(timeout: .seconds(30))
        let app = ExporterApplication(shops: settings, connection: connection, tuning: tuning, logger: logger)
        let task = Task { try await app.run() }
        return ExporterHarness(
            simulator: simulator, shops: domains, connection: connection, app: app, task: task, directory: directory,
            prefix: prefix, settings: settings, tuning: tuning)
    }

    let settings: [ShopSettings]
    let tuning: ShopWriter.Tuning
    /// The inventory items of the markers ``barrier(_:sourceLocation:)`` wrote: ``writes(_:)`` leaves their writes
    /// out.
    private let markerItems = Mutex<Set<String>>([])

    private init(
        simulator: Simulator, shops: [String], connection: AMQPConnection, app: ExporterApplication,
        task: Task<Void, any Error>, directory: URL, prefix: String, settings: [ShopSettings], tuning: ShopWriter.Tuning
    ) {
        self.settings = settings
        self.tuning = tuning
        self.simulator = simulator
        self.shops = shops
        self.connection = connection
        self.app = app
        self.task = task
        self.directory = directory
        self.prefix = prefix
    }

    /// Another exporter instance for the same shops, with a connection of its own, as a second process would be.
    func startStandby() async throws -> (stop: @Sendable () async -> Void, app: ExporterApplication) {
        var logger = Logger(label: "exporter-standby")
        logger.logLevel = .error
        let config = try TestBroker.configuration("exporter-standby")
        let standby = AMQPConnection(
            configuration: config,
            topology: StockwireTopology.exporter(
                shops: shops, availabilityExchange: "test.availability.\(prefix)", catalogExchange: "test.catalog.\(prefix)"),
            logger: logger)
        standby.start()
        try await standby.waitUntilConnected(timeout: .seconds(30))
        let app = ExporterApplication(shops: settings, connection: standby, tuning: tuning, logger: logger)
        let task = Task { try await app.run() }
        return (
            {
                task.cancel()
                _ = try? await task.value
                await standby.close()
            }, app
        )
    }

    /// Stops the first instance (its consumers go away, as when the process dies).
    func stopFirstInstance() async {
        task.cancel()
        _ = try? await task.value
    }

    /// A SKU name unique to this test.
    func sku(_ name: String) -> String { "\(prefix)-\(name)" }

    /// Publishes an availability message as the calculator would; `reconcile`: as a reconciliation round's resync,
    /// which the exporter reads back before it writes.
    func publish(
        sku: String, available: Int64, version: Int64, originShop: String? = nil, originQuantity: Int64? = nil,
        shares: [String: Int64]? = nil, reconcile: Bool = false
    ) async throws {
        let m = AvailabilityMessage(
            sku: sku, available: available, onHand: available, reserved: 0, version: version, causes: ["test/\(version)"],
            originShop: originShop, originQuantity: originQuantity, shares: shares,
            soldTotals: shares.map { $0.mapValues { _ in 0 } },
            firstReceivedAtMillis: Int64(Date().timeIntervalSince1970 * 1000),
            computedAtMillis: Int64(Date().timeIntervalSince1970 * 1000))
        try await connection.publish(
            AMQPMessage(
                exchange: "test.availability.\(prefix)", routingKey: sku, body: try m.json(),
                properties: AMQPProperties(
                    contentType: "application/json", messageId: "\(sku)/\(version)", type: AvailabilityMessage.messageType,
                    headers: reconcile ? [StockwireTopology.resyncHeader: .string(StockwireTopology.resyncReconcile)] : [:])))
    }

    /// Publishes a catalog message for `shop` as the calculator would after `products/create|update`.
    func publishCatalog(
        shop: String, productId: Int64, updatedAtMillis: Int64? = nil, variants: [CatalogMessage.Variant]
    ) async throws {
        let m = CatalogMessage(
            shop: try ShopDomain(shop), productId: productId, updatedAtMillis: updatedAtMillis, variants: variants)
        try await connection.publish(
            AMQPMessage(
                exchange: "test.catalog.\(prefix)", routingKey: shop, body: try m.json(),
                properties: AMQPProperties(
                    contentType: "application/json", messageId: "catalog/\(shop)/\(productId)", type: CatalogMessage.messageType))
        )
    }

    /// A barrier for "nothing else was written", instead of a sleep: a marker SKU, created in each of `shops` (all
    /// of them by default) at 0, published at 1 straight to those shops' queues behind everything published so far;
    /// returns once every one of them shows it. A shop's writer takes its deliveries in the order they come and
    /// writes one batch at a time to the end (a write that goes stale is read and sent again, one put back goes
    /// ahead of newer work), so once the marker is in the shop every message published before it has been written
    /// or dropped as obsolete. A shop that cannot be written (faults) never shows it: the barrier fails there.
    func barrier(_ shops: [String]? = nil, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let shops = shops ?? self.shops
        let marker = sku("marker-\(UUID().uuidString.prefix(8).lowercased())")
        for shop in shops {
            let variant = try await simulator.createVariant(shop: shop, sku: marker, available: 0)
            markerItems.withLock { _ = $0.insert(variant.inventoryItemGID) }
        }
        let m = AvailabilityMessage(
            sku: marker, available: 1, onHand: 1, reserved: 0, version: 1, causes: ["test/marker"],
            computedAtMillis: Int64(Date().timeIntervalSince1970 * 1000))
        for shop in shops {
            try await connection.publish(
                AMQPMessage(
                    exchange: "", routingKey: StockwireTopology.exporterQueue(shop: shop), body: try m.json(),
                    properties: AMQPProperties(
                        contentType: "application/json", messageId: "\(marker)/1", type: AvailabilityMessage.messageType)))
        }
        for shop in shops {
            #expect(
                try await eventually { try await level(shop, marker) == 1 }, "the marker reached \(shop)",
                sourceLocation: sourceLocation)
        }
    }

    /// Admin API calls of one operation (`productVariants`, `inventorySetQuantities`, …) to a shop so far.
    func calls(_ shop: String, _ operation: String) async -> [WriteLogEntry] {
        await simulator.writeLog(shop: shop).filter { $0.operation == operation }
    }

    /// The shop's available quantity of a SKU.
    func level(_ shop: String, _ sku: String) async throws -> Int? { try await simulator.levels(shop: shop)[sku] }

    /// Set-quantity writes to a shop so far, without the markers' quantities (``barrier(_:sourceLocation:)``): a
    /// write of nothing but markers is left out.
    func writes(_ shop: String) async -> [WriteLogEntry] {
        let markers = markerItems.withLock { $0 }
        return await simulator.writeLog(shop: shop).compactMap { entry in
            guard entry.operation == "inventorySetQuantities" else { return nil }
            guard let quantities = entry.quantities, !markers.isEmpty else { return entry }
            var own = entry
            own.quantities = quantities.filter { !markers.contains($0.inventoryItemId) }
            return own.quantities!.isEmpty && !quantities.isEmpty ? nil : own
        }
    }

    /// Messages waiting in a shop's queue (ready, not counting unacknowledged ones).
    func backlog(_ shop: String) async throws -> UInt32 {
        try await connection.queueInfo(StockwireTopology.exporterQueue(shop: shop)).messages
    }

    func stop() async {
        task.cancel()
        _ = try? await task.value
        for shop in shops {
            try? await connection.deleteQueue(StockwireTopology.exporterQueue(shop: shop))
            try? await connection.deleteQueue(StockwireTopology.deadLetterQueue(of: StockwireTopology.exporterQueue(shop: shop)))
        }
        try? await connection.deleteExchange("test.availability.\(prefix)")
        try? await connection.deleteExchange("test.catalog.\(prefix)")
        await connection.close()
        await simulator.shutdown()
        try? FileManager.default.removeItem(at: directory)
    }
}
