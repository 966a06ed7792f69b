import Foundation

/// What an exporter wrote into one shop, reported back so that `calculator explain` can show, per shop, the value
/// written, when, and how long after its first cause (published on `stockwire.writes`, routing key the shop).
///
/// Best effort: a report that is lost leaves an older line in `explain`, and, for a SKU under the zero-oversell
/// guard, keeps units claimed by that shop until a later report frees them (stock held back, never oversold).
public struct WriteReport: Sendable, Equatable, Codable {
    public static let currentSchemaVersion = 1
    /// The AMQP `type` property of write reports.
    public static let messageType = "stockwire.write-report"

    /// One SKU written.
    public struct Write: Sendable, Equatable, Codable {
        public var sku: String
        /// The availability version the write carried.
        public var version: Int64
        /// The quantity written (the version's available, less sales the shop made that the truth has not seen).
        public var value: Int64
        /// When Shopify acknowledged the write (ms since 1970).
        public var writtenAtMillis: Int64
        /// When ingest received the version's first cause (ms since 1970).
        public var firstReceivedAtMillis: Int64?
        /// Guarded versions only: units the shop had sold that the truth had not seen, held back from the share
        /// (written = share − held back), and the version's `sold_totals` figure of this shop. With them the
        /// calculator bounds what the shop can still sell, and frees the rest (a compare-and-set write was accepted,
        /// so the shop held what the exporter believed).
        public var heldBack: Int64?
        public var soldTotal: Int64?
        /// The `@idempotent` key of the mutation that wrote it, nil when the shop held the level already and nothing
        /// was sent. A report gathers the writes of several mutations; each carries its own key (a report's
        /// ``WriteReport/idempotencyKey`` is read for writes without one, as older exporters sent it).
        public var idempotencyKey: String?

        public init(
            sku: String, version: Int64, value: Int64, writtenAtMillis: Int64, firstReceivedAtMillis: Int64?,
            heldBack: Int64? = nil, soldTotal: Int64? = nil, idempotencyKey: String? = nil
        ) {
            self.idempotencyKey = idempotencyKey
            self.sku = sku
            self.version = version
            self.value = value
            self.writtenAtMillis = writtenAtMillis
            self.firstReceivedAtMillis = firstReceivedAtMillis
            self.heldBack = heldBack
            self.soldTotal = soldTotal
        }

        enum CodingKeys: String, CodingKey {
            case sku, version, value, writtenAtMillis = "written_at_ms", firstReceivedAtMillis = "first_received_at_ms"
            case heldBack = "held_back", soldTotal = "sold_total", idempotencyKey = "idempotency_key"
        }
    }

    public var schemaVersion: Int
    public var shop: ShopDomain
    public var writes: [Write]
    /// The `@idempotent` key of the mutation that wrote them, when one mutation wrote them all; nil when the shop
    /// already held every level and no mutation was sent, or when each write carries its own
    /// (``Write/idempotencyKey``). Shopify's side knows a write by this key, so the report can be put in the shop's
    /// own order of writes instead of being placed by the exporter's clock.
    public var idempotencyKey: String?

    public init(shop: ShopDomain, writes: [Write], idempotencyKey: String? = nil) {
        self.schemaVersion = Self.currentSchemaVersion
        self.shop = shop
        self.writes = writes
        self.idempotencyKey = idempotencyKey
    }

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version", shop, writes, idempotencyKey = "idempotency_key"
    }

    public func json() throws -> [UInt8] { Array(try JSONEncoder().encode(self)) }

    public static func decode(_ body: [UInt8]) throws -> WriteReport {
        let r: WriteReport
        do {
            r = try JSONDecoder().decode(WriteReport.self, from: Data(body))
        } catch {
            throw ContractError("write report is not valid: \(error)")
        }
        guard r.schemaVersion == currentSchemaVersion else {
            throw ContractError("write report schema version \(r.schemaVersion) is not supported")
        }
        return r
    }
}
