import Contracts
import Postgres
import StockCore

/// Statements gathered to go to the server as one pipeline, one round trip for all (issue #19: at a low rate each
/// webhook is a batch of its own, and each statement of it was a round trip). Each result is found again by the
/// position ``add(_:_:)`` returned.
struct StatementBatch {
    typealias Item = (PostgresStatement, [(any PostgresEncodable)?])

    private(set) var items: [Item] = []

    /// Adds a statement; returns where its result will be.
    @discardableResult
    mutating func add(_ statement: PostgresStatement, _ parameters: [(any PostgresEncodable)?]) -> Int {
        items.append((statement, parameters))
        return items.count - 1
    }

    mutating func add(_ statements: [Item]) {
        items += statements
    }

    /// Sends every statement in one round trip; the results in the order added. `commit`: `COMMIT` goes with them,
    /// and the transaction is over.
    func run(_ tx: PostgresTransaction, commit: Bool = false) async throws -> [PostgresQueryResult] {
        try await tx.pipeline(items, commit: commit)
    }
}

/// What a batch's events touch: the orders and refunds to load and lock, the SKUs to register and lock.
struct Touched {
    var orderKeys = Set<OrderKey>()
    var refundKeys = Set<RefundKey>()
    var refundOrders: [RefundKey: Int64] = [:]
    var registeredSkus = Set<String>()
    /// SKUs moved by the events themselves; the lines of the touched orders add theirs once loaded.
    var movementSkus = Set<String>()

    init(_ events: [PreparedEvent]) {
        for e in events {
            switch e.event {
            case .order(let o):
                orderKeys.insert(o.key)
                registeredSkus.formUnion(o.lines.map(\.sku))
            case .refund(let r):
                orderKeys.insert(r.orderKey)
                refundKeys.insert(RefundKey(shop: r.shop, refundId: r.refundId))
                refundOrders[RefundKey(shop: r.shop, refundId: r.refundId)] = r.orderId
            case .movements(let ms):
                for m in ms {
                    movementSkus.insert(m.sku)
                    // A shop that is no domain rejects the movement (StockState): no order of it to load.
                    if let shop = m.shop.flatMap({ try? ShopDomain($0) }), let orderId = m.orderId {
                        orderKeys.insert(OrderKey(shop: shop, orderId: orderId))
                    }
                }
            case .catalog(let c): registeredSkus.formUnion(c.variants.compactMap(\.sku))
            case .ignored: break
            }
        }
    }
}
