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
    /// When ingest received the first cause (ms since 1970), for end-to-end latency.
    public var firstReceivedAtMillis: Int64?
    /// When the calculator committed this value (ms since 1970).
    public var computedAtMillis: Int64

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version", sku, available, onHand = "on_hand", reserved, version, causes
        case originShop = "origin_shop", originQuantity = "origin_quantity", originQuantities = "origin_quantities"
        case originSold = "origin_sold"
        case firstReceivedAtMillis = "first_received_at_ms", computedAtMillis = "computed_at_ms"
    }

    /// Creates a message of the current schema version.
    public init(
        sku: String, available: Int64, onHand: Int64, reserved: Int64, version: Int64, causes: [String],
        originShop: String? = nil, originQuantity: Int64? = nil, originQuantities: [String: Int64]? = nil,
        originSold: [String: Int64]? = nil, firstReceivedAtMillis: Int64? = nil, computedAtMillis: Int64
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
        self.firstReceivedAtMillis = firstReceivedAtMillis
        self.computedAtMillis = computedAtMillis
    }

    /// Units `shop`'s own orders newly took in this change (gross), for an exporter's ledger: `origin_sold`, or
    /// the net own quantity from messages of calculators that do not send it yet.
    public func soldQuantity(of shop: String) -> Int64? {
        if let sold = originSold { return sold[shop] }
        return ownQuantity(of: shop)
    }

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
        if let originQuantities {
            w.key(CodingKeys.originQuantities.rawValue)
            w.beginObject()
            for (shop, quantity) in originQuantities.sorted(by: { $0.key < $1.key }) {
                w.key(shop)
                w.value(quantity)
            }
            w.endObject()
        }
        if let originQuantity {
            w.key(CodingKeys.originQuantity.rawValue)
            w.value(originQuantity)
        }
        if let originShop {
            w.key(CodingKeys.originShop.rawValue)
            w.value(originShop)
        }
        if let originSold {
            w.key(CodingKeys.originSold.rawValue)
            w.beginObject()
            for (shop, quantity) in originSold.sorted(by: { $0.key < $1.key }) {
                w.key(shop)
                w.value(quantity)
            }
            w.endObject()
        }
        w.key(CodingKeys.reserved.rawValue)
        w.value(reserved)
        w.key(CodingKeys.schemaVersion.rawValue)
        w.value(schemaVersion)
        w.key(CodingKeys.sku.rawValue)
        w.value(sku)
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
