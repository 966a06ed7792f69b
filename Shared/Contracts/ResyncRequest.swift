import Foundation

/// An operator's request that the calculator publish the current availability of every SKU to one shop's queue
/// (`exporter resync <shop>`), sent to ``StockwireTopology/calculatorRequestsQueue``.
///
/// The exporter owns no database, so it cannot read the truth itself; the calculator answers by publishing one
/// availability message per SKU through the default exchange to `exporter.<shop>` only, each flagged with
/// ``StockwireTopology/resyncHeader``.
public struct ResyncRequest: Sendable, Equatable, Codable {
    /// Version of this contract.
    public static let currentSchemaVersion = 1
    /// The AMQP `type` property of resync requests.
    public static let messageType = "stockwire.request.resync"

    /// Contract version of this message.
    public var schemaVersion: Int
    /// The shop domain whose queue receives the availability.
    public var shop: ShopDomain
    /// When the operator asked (ms since 1970).
    public var requestedAtMillis: Int64

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version", shop, requestedAtMillis = "requested_at_ms"
    }

    /// Creates a request of the current schema version.
    public init(shop: ShopDomain, requestedAtMillis: Int64) {
        self.schemaVersion = Self.currentSchemaVersion
        self.shop = shop
        self.requestedAtMillis = requestedAtMillis
    }

    /// Encodes as JSON with sorted keys.
    public func json() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(self))
    }

    /// Decodes and checks the schema version.
    public static func decode(_ body: [UInt8]) throws -> ResyncRequest {
        let r: ResyncRequest
        do {
            r = try JSONDecoder().decode(ResyncRequest.self, from: Data(body))
        } catch {
            throw ContractError("resync request is not valid: \(error)")
        }
        guard r.schemaVersion == currentSchemaVersion else {
            throw ContractError("resync request schema version \(r.schemaVersion) is not supported")
        }
        return r
    }
}
