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
    /// When ingest received the first cause (ms since 1970), for end-to-end latency.
    public var firstReceivedAtMillis: Int64?
    /// When the calculator committed this value (ms since 1970).
    public var computedAtMillis: Int64

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version", sku, available, onHand = "on_hand", reserved, version, causes
        case originShop = "origin_shop", originQuantity = "origin_quantity", originQuantities = "origin_quantities"
        case firstReceivedAtMillis = "first_received_at_ms", computedAtMillis = "computed_at_ms"
    }

    /// Creates a message of the current schema version.
    public init(
        sku: String, available: Int64, onHand: Int64, reserved: Int64, version: Int64, causes: [String],
        originShop: String? = nil, originQuantity: Int64? = nil, originQuantities: [String: Int64]? = nil,
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
        self.firstReceivedAtMillis = firstReceivedAtMillis
        self.computedAtMillis = computedAtMillis
    }

    /// Units of this change sold in `shop` itself (Shopify already lowered that shop's count), if any.
    public func ownQuantity(of shop: String) -> Int64? {
        if let q = originQuantities?[shop] { return q }
        return originShop == shop ? originQuantity : nil
    }

    /// Encodes as JSON.
    public func json() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(self))
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
