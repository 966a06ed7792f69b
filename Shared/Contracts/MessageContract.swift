import AMQP

/// A message type Stockwire publishes: its AMQP `type` and the schema version this build writes. The properties
/// every such message carries are built here, once, so that no publisher spells a header or content type itself.
public protocol MessageContract {
    /// The AMQP `type` property.
    static var messageType: String { get }
    /// The body's schema version, also sent as ``MessageContracts/schemaVersionHeader``.
    static var currentSchemaVersion: Int { get }
}

/// The properties and headers shared by every Stockwire message.
public enum MessageContracts {
    /// Header carrying the body's schema version: a consumer refuses versions it does not read.
    public static let schemaVersionHeader = "x-schema-version"
    /// Every body is JSON.
    public static let contentType = "application/json"
    /// The contracts this build publishes, for publishers that only know a message's `type` (the calculator's outbox).
    public static let all: [any MessageContract.Type] = [
        AvailabilityMessage.self, CatalogMessage.self, EventEnvelope.self, ResyncRequest.self, WriteReport.self,
    ]

    /// The contract whose AMQP `type` is `messageType`, if this build knows it.
    public static func contract(ofType messageType: String) -> (any MessageContract.Type)? {
        all.first { $0.messageType == messageType }
    }
}

extension MessageContract {
    /// The AMQP properties of a message of this type: JSON, persistent, its type and schema version header, and
    /// `headers` besides. `timestampMillis` is sent in seconds (AMQP's resolution).
    public static func properties(
        messageId: String? = nil, timestampMillis: Int64? = nil, headers: [String: AMQPValue] = [:]
    ) -> AMQPProperties {
        var all = headers
        all[MessageContracts.schemaVersionHeader] = .int64(Int64(currentSchemaVersion))
        return AMQPProperties(
            contentType: MessageContracts.contentType, messageId: messageId,
            timestamp: timestampMillis.map { UInt64(max(0, $0) / 1000) }, type: messageType, headers: all)
    }
}

extension AvailabilityMessage: MessageContract {}
extension CatalogMessage: MessageContract {}
extension ResyncRequest: MessageContract {}
extension WriteReport: MessageContract {}
extension EventEnvelope: MessageContract {
    public static var currentSchemaVersion: Int { schemaVersion }
}
