import AMQP
import AsyncHTTPClient
import Logging
import ServiceKit
import ServiceLifecycle

/// All shop writers of one exporter process, as one lifecycle service.
struct ExporterApplication: Service {
    let writers: [ShopWriter]
    let connection: AMQPConnection
    private let http: HTTPClient

    /// Builds a writer per shop (tests call this without `main`).
    init(shops: [ShopSettings], connection: AMQPConnection, tuning: ShopWriter.Tuning, logger: Logger) {
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        self.http = http
        self.connection = connection
        self.writers = shops.map { shop in
            ShopWriter(
                shop: shop, client: AdminAPIClient(shop: shop, http: http, timeout: tuning.requestTimeout),
                connection: connection, tuning: tuning, logger: logger)
        }
    }

    func run() async throws {
        // The HTTP client is shut down however the writers end (stopped, cancelled or failed): a client dropped
        // without it leaks its connections (and traps in debug builds).
        do {
            try await cancelWhenGracefulShutdown {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for writer in writers { group.addTask { try await writer.run() } }
                    try await group.waitForAll()
                }
            }
        } catch {
            try? await http.shutdown()
            throw error
        }
        try await http.shutdown()
    }

    /// Nil when every shop is being written and the broker is connected; otherwise the reasons.
    func readiness() async -> String? {
        var reasons: [String] = []
        if let broker = BrokerService.readiness(of: connection) { reasons.append(broker) }
        for writer in writers { if let r = await writer.readiness { reasons.append(r) } }
        return reasons.isEmpty ? nil : reasons.joined(separator: "; ")
    }
}
