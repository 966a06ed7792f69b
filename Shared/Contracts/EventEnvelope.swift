import AMQP
import Foundation

/// An event accepted by ingest, as it travels on `stockwire.events`.
///
/// The body is the sender's raw bytes, unchanged (a Shopify webhook's JSON exactly as signed, or a warehouse
/// movement's JSON); everything else travels in AMQP headers, so nothing is re-encoded on the way.
public struct EventEnvelope: Sendable, Equatable {
    /// Version of this contract; consumers refuse versions they do not know.
    public static let schemaVersion = 1
    /// The AMQP `type` property of event messages.
    public static let messageType = "stockwire.event"

    /// Where an event came from.
    public enum Source: String, Sendable {
        case shopify, warehouse
    }

    /// Origin of the event.
    public var source: Source
    /// Shop domain (`name.myshopify.com`) for Shopify events; nil for warehouse movements.
    public var shop: ShopDomain?
    /// Shopify topic (`orders/create`) or movement kind (`receipt`).
    public var topic: String
    /// Shopify's delivery id (`X-Shopify-Webhook-Id`), or the movement id.
    public var deliveryId: String
    /// Shopify's event id (`X-Shopify-Event-Id`), the same for all deliveries of one action.
    public var eventId: String?
    /// When Shopify says it triggered the event (`X-Shopify-Triggered-At`), as sent.
    public var triggeredAt: String?
    /// API version of the payload (`X-Shopify-API-Version`).
    public var apiVersion: String?
    /// When ingest received it (milliseconds since 1970).
    public var receivedAtMillis: Int64
    /// The raw body.
    public var body: [UInt8]

    /// Creates an envelope.
    public init(
        source: Source, shop: ShopDomain?, topic: String, deliveryId: String, eventId: String? = nil,
        triggeredAt: String? = nil, apiVersion: String? = nil, receivedAtMillis: Int64, body: [UInt8]
    ) {
        self.source = source
        self.shop = shop
        self.topic = topic
        self.deliveryId = deliveryId
        self.eventId = eventId
        self.triggeredAt = triggeredAt
        self.apiVersion = apiVersion
        self.receivedAtMillis = receivedAtMillis
        self.body = body
    }

    /// The idempotency key: `<shop>/<webhook id>` or `warehouse/<movement id>`.
    public var messageId: String {
        switch source {
        case .shopify: return "\(shop?.description ?? "unknown")/\(deliveryId)"
        case .warehouse: return "warehouse/\(deliveryId)"
        }
    }

    /// `shopify.orders.create` or `warehouse.receipt`.
    public var routingKey: String {
        let prefix = source.rawValue.utf8
        let topicBytes = topic.utf8
        guard topicBytes.allSatisfy({ $0 < 0x80 }) else {
            return "\(source.rawValue).\(topic.replacingOccurrences(of: "/", with: "."))"
        }
        // ASCII (every topic ingest accepts): one pass over the bytes, where Foundation's replacement cost several
        // percent of ingest's CPU per webhook.
        return String(unsafeUninitializedCapacity: prefix.count + 1 + topicBytes.count) { buffer in
            var i = 0
            for byte in prefix {
                buffer[i] = byte
                i += 1
            }
            buffer[i] = UInt8(ascii: ".")
            i += 1
            for byte in topicBytes {
                buffer[i] = byte == UInt8(ascii: "/") ? UInt8(ascii: ".") : byte
                i += 1
            }
            return i
        }
    }

    /// The message to publish on ``StockwireTopology/eventsExchange``: persistent and mandatory.
    public func message() -> AMQPMessage {
        var headers = [String: AMQPValue](minimumCapacity: 9)
        headers["source"] = .string(source.rawValue)
        headers["topic"] = .string(topic)
        headers["delivery-id"] = .string(deliveryId)
        headers["received-at-ms"] = .int64(receivedAtMillis)
        if let shop { headers["shop"] = .string(shop.description) }
        if let eventId { headers["event-id"] = .string(eventId) }
        if let triggeredAt { headers["triggered-at"] = .string(triggeredAt) }
        if let apiVersion { headers["api-version"] = .string(apiVersion) }
        let properties = Self.properties(messageId: messageId, timestampMillis: receivedAtMillis, headers: headers)
        return AMQPMessage(
            exchange: StockwireTopology.eventsExchange, routingKey: routingKey, body: body, properties: properties)
    }

    /// Reads an envelope back from a delivered message; throws a ``ContractError`` naming what is missing.
    public init(body: [UInt8], properties: AMQPProperties) throws {
        let h = properties.headers
        guard let version = h[MessageContracts.schemaVersionHeader]?.intValue else {
            throw ContractError("event has no \(MessageContracts.schemaVersionHeader) header")
        }
        guard version == Int64(Self.schemaVersion) else {
            throw ContractError("event schema version \(version) is not supported (this build reads \(Self.schemaVersion))")
        }
        guard let sourceName = h["source"]?.stringValue, let source = Source(rawValue: sourceName) else {
            throw ContractError("event header 'source' missing or not shopify/warehouse")
        }
        guard let topic = h["topic"]?.stringValue, !topic.isEmpty else { throw ContractError("event header 'topic' missing") }
        guard let deliveryId = h["delivery-id"]?.stringValue else { throw ContractError("event header 'delivery-id' missing") }
        guard let received = h["received-at-ms"]?.intValue else { throw ContractError("event header 'received-at-ms' missing") }
        // An empty header reads as none (the decoder then names the missing shop); anything else must be a domain.
        var shop: ShopDomain?
        if let text = h["shop"]?.stringValue, !text.isEmpty {
            do { shop = try ShopDomain(text) } catch { throw ContractError("event header 'shop': \(error)") }
        }
        self.init(
            source: source, shop: shop, topic: topic, deliveryId: deliveryId,
            eventId: h["event-id"]?.stringValue, triggeredAt: h["triggered-at"]?.stringValue,
            apiVersion: h["api-version"]?.stringValue, receivedAtMillis: received, body: body)
    }
}

/// A message that does not follow its contract; the text names the field and the rule.
public struct ContractError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong.
    public let message: String
    /// Creates an error.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
