import Foundation

/// The basic properties of a message: what a consumer needs to interpret it without reading the body.
public struct AMQPProperties: Sendable, Equatable {
    /// MIME type of the body, e.g. `application/json`.
    public var contentType: String?
    /// The sender's unique id of this message (idempotency key downstream).
    public var messageId: String?
    /// Seconds since 1970 when the message was created.
    public var timestamp: UInt64?
    /// The message type (Stockwire: the contract name, e.g. `stockwire.event.v1`).
    public var type: String?
    /// Correlation id, for replies and tracing.
    public var correlationId: String?
    /// Application headers (schema version, dead-letter reasons, `x-death`).
    public var headers: [String: AMQPValue]
    /// Persistent (delivery mode 2) survives a broker restart on a durable queue.
    public var persistent: Bool

    /// Creates properties; messages are persistent unless told otherwise.
    public init(
        contentType: String? = nil, messageId: String? = nil, timestamp: UInt64? = nil, type: String? = nil,
        correlationId: String? = nil, headers: [String: AMQPValue] = [:], persistent: Bool = true
    ) {
        self.contentType = contentType
        self.messageId = messageId
        self.timestamp = timestamp
        self.type = type
        self.correlationId = correlationId
        self.headers = headers
        self.persistent = persistent
    }
}

/// A message to publish.
public struct AMQPMessage: Sendable {
    /// Exchange to publish to (`""` is the default exchange, routing by queue name).
    public var exchange: String
    /// Routing key.
    public var routingKey: String
    /// Body bytes, sent unchanged.
    public var body: [UInt8]
    /// Properties.
    public var properties: AMQPProperties
    /// When true, a message no queue takes is returned and reported as ``AMQPError/Code/unroutable``.
    public var mandatory: Bool

    /// Creates a message; mandatory by default, so that an unroutable message is an error, not a silent ack.
    public init(
        exchange: String, routingKey: String, body: [UInt8], properties: AMQPProperties = AMQPProperties(),
        mandatory: Bool = true
    ) {
        self.exchange = exchange
        self.routingKey = routingKey
        self.body = body
        self.properties = properties
        self.mandatory = mandatory
    }
}
