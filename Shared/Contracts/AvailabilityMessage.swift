import Foundation

/// The calculator's announcement of one SKU's available quantity, published on `stockwire.availability`
/// (routing key: the SKU) after every committed change.
public struct AvailabilityMessage: Sendable, Equatable, Codable {
    /// Version of this contract.
    public static let currentSchemaVersion = 1
    /// The AMQP `type` property of availability messages.
    public static let messageType = "stockwire.availability"

    /// Contract version of this message.
    public var schemaVersion: Int
    /// The SKU.
    public var sku: String
    /// `max(0, on_hand − reserved − safety_stock)`: what every shop should show.
    public var available: Int64
    /// Physical units for sale.
    public var onHand: Int64
    /// Units held by open order lines.
    public var reserved: Int64
    /// Monotonic per SKU: an exporter never writes an older version over a newer one.
    public var version: Int64
    /// Message ids of the events that caused this change.
    public var causes: [String]
    /// The shop whose own order caused the change (it already lowered its count itself).
    public var originShop: String?
    /// How many units that shop's order took.
    public var originQuantity: Int64?
    /// Net units each shop's own orders reserved in this change (positive: sold there), for every shop whose
    /// orders moved the SKU; an exporter must not give those units back to that shop.
    public var originQuantities: [String: Int64]?
    /// Units each shop's own orders newly reserved in this change: its sales, gross (a cancel or an edit in the
    /// same change does not net them out). Shopify took these off that shop's count at checkout; an exporter uses
    /// them to account for loss it saw in the shop before the truth did.
    public var originSold: [String: Int64]?
    /// Units each shop's own orders gave back in this change (a cancellation, an edit down, a refund that
    /// releases): Shopify restocks them in that shop unless told not to. An exporter adds them to what it believes
    /// the shop holds.
    public var originRestocked: [String: Int64]?
    /// Zero-oversell guard (low stock): what each shop shows instead of `available`; absent in mirror mode. The
    /// shares never add up to more than `available`; a shop the map does not name shows 0.
    public var shares: [String: Int64]?
    /// With `shares`: each shop's net units sold since the guard began, as this version knows them. An exporter
    /// echoes its shop's figure in its write report, so the calculator can tell which sales the write saw.
    public var soldTotals: [String: Int64]?
    /// When ingest received the first cause (ms since 1970), for end-to-end latency.
    public var firstReceivedAtMillis: Int64?
    /// When the calculator committed this value (ms since 1970).
    public var computedAtMillis: Int64

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version", sku, available, onHand = "on_hand", reserved, version, causes
        case originShop = "origin_shop", originQuantity = "origin_quantity", originQuantities = "origin_quantities"
        case originSold = "origin_sold", originRestocked = "origin_restocked", shares, soldTotals = "sold_totals"
        case firstReceivedAtMillis = "first_received_at_ms", computedAtMillis = "computed_at_ms"
    }

    /// Creates a message of the current schema version.
    public init(
        sku: String, available: Int64, onHand: Int64, reserved: Int64, version: Int64, causes: [String],
        originShop: String? = nil, originQuantity: Int64? = nil, originQuantities: [String: Int64]? = nil,
        originSold: [String: Int64]? = nil, originRestocked: [String: Int64]? = nil, shares: [String: Int64]? = nil,
        soldTotals: [String: Int64]? = nil,
        firstReceivedAtMillis: Int64? = nil, computedAtMillis: Int64
    ) {
        self.schemaVersion = Self.currentSchemaVersion
        self.sku = sku
        self.available = available
        self.onHand = onHand
        self.reserved = reserved
        self.version = version
        self.causes = causes
        self.originShop = originShop
        self.originQuantity = originQuantity
        self.originQuantities = originQuantities
        self.originSold = originSold
        self.originRestocked = originRestocked
        self.shares = shares
        self.soldTotals = soldTotals
        self.firstReceivedAtMillis = firstReceivedAtMillis
        self.computedAtMillis = computedAtMillis
    }

    /// What `shop` should show: its share under the guard (0 when it has none), else `available`.
    public func target(for shop: String) -> Int64 { Self.target(available: available, shares: shares, shop: shop) }

    /// What `shop` should show of a SKU with `available` units: its share when the zero-oversell guard gives shares
    /// (0 for a shop without one), the available otherwise.
    public static func target(available: Int64, shares: [String: Int64]?, shop: String) -> Int64 {
        guard let shares else { return available }
        return shares[shop] ?? 0
    }

    /// Units `shop`'s own orders newly took in this change (gross), for an exporter's ledger: `origin_sold`
    /// (absent: none), or, when the change names the shop only in `origin_quantities`, its net quantity if
    /// positive. Nil when the change has nothing of the shop's own.
    public func soldQuantity(of shop: String) -> Int64? {
        if let sold = originSold?[shop] { return sold }
        return ownQuantity(of: shop).map { max(0, $0) }
    }

    /// Units `shop`'s own orders gave back in this change (`origin_restocked`; 0 when absent).
    public func restockedQuantity(of shop: String) -> Int64 { max(0, originRestocked?[shop] ?? 0) }

    /// Units of this change sold in `shop` itself (Shopify already lowered that shop's count), if any.
    public func ownQuantity(of shop: String) -> Int64? {
        if let q = originQuantities?[shop] { return q }
        return originShop == shop ? originQuantity : nil
    }

    /// Encodes as JSON, keys sorted, absent optionals left out (what `JSONEncoder` with `.sortedKeys` gives, for
    /// a fraction of its cost: the calculator writes one of these per changed SKU).
    public func json() throws -> [UInt8] {
        var w = JSONWriter(capacity: 160 + sku.utf8.count + causes.reduce(0) { $0 + $1.utf8.count + 3 })
        w.beginObject()
        w.key(CodingKeys.available.rawValue)
        w.value(available)
        w.key(CodingKeys.causes.rawValue)
        w.beginArray()
        for cause in causes { w.value(cause) }
        w.endArray()
        w.key(CodingKeys.computedAtMillis.rawValue)
        w.value(computedAtMillis)
        if let firstReceivedAtMillis {
            w.key(CodingKeys.firstReceivedAtMillis.rawValue)
            w.value(firstReceivedAtMillis)
        }
        w.key(CodingKeys.onHand.rawValue)
        w.value(onHand)
        if let originQuantities { w.object(CodingKeys.originQuantities.rawValue, originQuantities) }
        if let originQuantity {
            w.key(CodingKeys.originQuantity.rawValue)
            w.value(originQuantity)
        }
        if let originShop {
            w.key(CodingKeys.originShop.rawValue)
            w.value(originShop)
        }
        if let originRestocked { w.object(CodingKeys.originRestocked.rawValue, originRestocked) }
        if let originSold { w.object(CodingKeys.originSold.rawValue, originSold) }
        w.key(CodingKeys.reserved.rawValue)
        w.value(reserved)
        w.key(CodingKeys.schemaVersion.rawValue)
        w.value(schemaVersion)
        if let shares { w.object(CodingKeys.shares.rawValue, shares) }
        w.key(CodingKeys.sku.rawValue)
        w.value(sku)
        if let soldTotals { w.object(CodingKeys.soldTotals.rawValue, soldTotals) }
        w.key(CodingKeys.version.rawValue)
        w.value(version)
        w.endObject()
        return w.bytes
    }

    /// Decodes and checks the schema version.
    public static func decode(_ body: [UInt8]) throws -> AvailabilityMessage {
        let m: AvailabilityMessage
        do {
            m = try JSONDecoder().decode(AvailabilityMessage.self, from: Data(body))
        } catch {
            throw ContractError("availability message is not valid: \(error)")
        }
        guard m.schemaVersion == currentSchemaVersion else {
            throw ContractError("availability schema version \(m.schemaVersion) is not supported")
        }
        return m
    }
}
