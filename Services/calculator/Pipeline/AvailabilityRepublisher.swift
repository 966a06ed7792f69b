import AMQP
import Contracts
import Logging
import StockCore

/// Publishes the current availability of every SKU straight from the truth: `calculator publish-all` (every
/// shop, through `stockwire.availability`) and the answer to `exporter resync <shop>` (one shop's queue only).
///
/// Each message carries the SKU's current version, not a new one, and the header
/// ``StockwireTopology/resyncHeader``. Why not a new version through the outbox: nothing changed, so the truth's
/// history should not say it did, and a resync must not race a real change — an exporter still drops a
/// flagged message older than what it has written (a change committed meanwhile wins), but writes a flagged one
/// of the version it has already written after reading the shop's actual level (the shop may have been restored,
/// edited, or be new). The write stays compare-and-set through the exporter's ledger.
///
/// Not through the outbox either: a republish that fails half-way is simply run again (it is idempotent), so
/// there is nothing to make durable first.
struct AvailabilityRepublisher: Sendable {
    /// Where the messages go.
    enum Target: Sendable, Equatable, CustomStringConvertible {
        /// Every shop: the availability exchange, routing key the SKU (not mandatory: no exporter bound is fine).
        case exchange(String)
        /// One queue (e.g. `exporter.<shop>`) through the default exchange, mandatory: a missing queue is an error.
        case queue(String)

        var description: String {
            switch self {
            case .exchange(let e): return "exchange \(e)"
            case .queue(let q): return "queue \(q)"
            }
        }
    }

    let amqp: AMQPConnection
    let store: StockStore
    let logger: Logger
    /// SKUs read and published per round.
    var pageSize = 500

    /// Publishes every SKU's availability to `target` and returns how many messages the broker confirmed; throws
    /// (naming how many went out before) when the broker refuses one.
    func publishAll(to target: Target, reconcile: Bool = false) async throws -> Int {
        var after = ""
        var published = 0
        while true {
            let page = try await store.skus(after: after, limit: pageSize)
            guard let last = page.last else { break }
            try await publish(page, to: target, resync: reconcile ? .reconcile : .resync, publishedBefore: published)
            published += page.count
            after = last.sku
        }
        logger.info("availability republished", metadata: ["target": "\(target)", "skus": "\(published)"])
        return published
    }

    /// Publishes the current availability of those of `skus` the truth knows, once each, as ordinary availability
    /// messages (no resync flag: an exporter writes them only when they are newer than what it wrote). What a
    /// replay publishes at its end. Returns how many went out.
    func publish(skus: [String], to target: Target) async throws -> Int {
        var published = 0
        for start in stride(from: 0, to: skus.count, by: pageSize) {
            let page = try await store.skus(named: Array(skus[start..<min(start + pageSize, skus.count)]))
            try await publish(page, to: target, resync: .none, publishedBefore: published)
            published += page.count
        }
        return published
    }

    /// How a message is flagged: not at all, as an operator's resync, or as a reconciliation round.
    private enum Flag { case none, resync, reconcile }

    private func publish(
        _ page: [(sku: String, stock: SkuStock)], to target: Target, resync: Flag, publishedBefore published: Int
    ) async throws {
        let now = nowMillis()
        // A guarded SKU is republished with its shares: a resync must not hand every shop the whole available.
        let guarded = try await store.guardShares(of: page.map(\.sku))
        let messages = try page.map { sku, stock in
            try message(
                AvailabilityMessage(
                    sku: sku, available: stock.available, onHand: stock.onHand, reserved: stock.reserved,
                    version: stock.version, causes: [], shares: guarded[sku]?.shares.byDomainText,
                    soldTotals: guarded[sku]?.sold.byDomainText,
                    computedAtMillis: now), to: target, resync: resync)
        }
        let amqp = amqp
        try await withThrowingTaskGroup(of: Void.self) { group in
            for m in messages { group.addTask { try await amqp.publish(m, timeout: .seconds(30)) } }
            do {
                try await group.waitForAll()
            } catch {
                throw RepublishError(
                    "published \(published) SKU(s) to \(target), then the broker refused one: \(error); run it again",
                    unroutable: (error as? AMQPError)?.code == .unroutable)
            }
        }
    }

    private func message(_ m: AvailabilityMessage, to target: Target, resync: Flag) throws -> AMQPMessage {
        var headers: [String: AMQPValue] = [:]
        switch resync {
        case .none: break
        case .resync: headers[StockwireTopology.resyncHeader] = 1
        case .reconcile: headers[StockwireTopology.resyncHeader] = .string(StockwireTopology.resyncReconcile)
        }
        let properties = AvailabilityMessage.properties(
            messageId: "\(m.sku)/\(m.version)", timestampMillis: nowMillis(), headers: headers)
        switch target {
        case .exchange(let exchange):
            return AMQPMessage(
                exchange: exchange, routingKey: m.sku, body: try m.json(), properties: properties, mandatory: false)
        case .queue(let queue):
            return AMQPMessage(exchange: "", routingKey: queue, body: try m.json(), properties: properties, mandatory: true)
        }
    }
}

/// A republish the broker did not take completely; the message says how far it got.
struct RepublishError: Error, CustomStringConvertible {
    let message: String
    /// The target queue does not exist.
    let unroutable: Bool
    init(_ message: String, unroutable: Bool = false) {
        self.message = message
        self.unroutable = unroutable
    }
    var description: String { message }
}
