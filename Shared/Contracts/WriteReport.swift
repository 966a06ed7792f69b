import Foundation

/// What an exporter wrote into one shop, reported back so that `calculator explain` can show, per shop, the value
/// written, when, and how long after its first cause (published on `stockwire.writes`, routing key the shop).
///
/// Best effort: lineage for support, not a part of the sync. A report that is lost leaves an older line in
/// `explain`; nothing else depends on it.
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

        public init(sku: String, version: Int64, value: Int64, writtenAtMillis: Int64, firstReceivedAtMillis: Int64?) {
            self.sku = sku
            self.version = version
            self.value = value
            self.writtenAtMillis = writtenAtMillis
            self.firstReceivedAtMillis = firstReceivedAtMillis
        }

        enum CodingKeys: String, CodingKey {
            case sku, version, value, writtenAtMillis = "written_at_ms", firstReceivedAtMillis = "first_received_at_ms"
        }
    }

    public var schemaVersion: Int
    public var shop: String
    public var writes: [Write]

    public init(shop: String, writes: [Write]) {
        self.schemaVersion = Self.currentSchemaVersion
        self.shop = shop
        self.writes = writes
    }

    enum CodingKeys: String, CodingKey { case schemaVersion = "schema_version", shop, writes }

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
