import AMQP
import Contracts
import Foundation
import StockCore

/// A delivery read into an event, or the reason it cannot be understood.
enum DecodedDelivery: Sendable {
    case event(StockEvent, EventCause, shop: ShopDomain?, topic: String)
    case poison(String)
}

/// Turns deliveries of `calculator.events` into ``StockEvent``s; every failure names the field and the rule. Warehouse
/// movements are read here; a shop platform's webhooks by its ``PlatformEventDecoder`` (Shopify's in `Shopify/`).
enum EventDecoder {
    /// The largest quantity one order line or refund line may carry, as for a warehouse movement: far above any
    /// real order, and small enough that sums over every line of every order cannot overflow the stock arithmetic
    /// (a signed payload with a quantity near `Int64.max` would otherwise trap the calculator on every redelivery).
    static let maxQuantity: Int64 = 1_000_000_000

    /// Reads one delivery.
    static func decode(body: [UInt8], properties: AMQPProperties) -> DecodedDelivery {
        let envelope: EventEnvelope
        do {
            envelope = try EventEnvelope(body: body, properties: properties)
        } catch {
            return .poison("envelope: \(error)")
        }
        let cause = EventCause(messageId: envelope.messageId, receivedAtMillis: envelope.receivedAtMillis)
        do {
            let event = try decode(envelope)
            return .event(event, cause, shop: envelope.shop, topic: envelope.topic)
        } catch let error as ContractError {
            return .poison("\(envelope.source.rawValue) \(envelope.topic) \(envelope.messageId): \(error.message)")
        } catch {
            return .poison("\(envelope.source.rawValue) \(envelope.topic) \(envelope.messageId): \(error)")
        }
    }

    /// The platforms whose webhooks the calculator reads, by the source their envelopes carry. A second platform
    /// is a folder beside `Shopify/` and one entry here.
    static let platforms: [EventEnvelope.Source: any PlatformEventDecoder] = [.shopify: ShopifyEventDecoder()]

    /// Reads the body of an envelope according to its source and topic.
    static func decode(_ envelope: EventEnvelope) throws -> StockEvent {
        if envelope.source == .warehouse {
            return .movements(try StockMovement.parse(envelope.body))
        }
        guard let platform = platforms[envelope.source] else {
            throw ContractError("no decoder for source '\(envelope.source.rawValue)'")
        }
        guard let shop = envelope.shop else {
            throw ContractError("\(envelope.source.rawValue) event without 'shop' header")
        }
        return try platform.decode(envelope, shop: shop)
    }

    // MARK: JSON

    static func json<T: Decodable>(_ type: T.Type, _ body: [UInt8]) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(body))
        } catch let DecodingError.keyNotFound(key, context) {
            throw ContractError("missing field \(path(context.codingPath + [key]))")
        } catch let DecodingError.typeMismatch(type, context) {
            throw ContractError("field \(path(context.codingPath)) must be \(type)")
        } catch let DecodingError.valueNotFound(type, context) {
            throw ContractError("field \(path(context.codingPath)) must be \(type), not null")
        } catch let DecodingError.dataCorrupted(context) {
            if context.codingPath.isEmpty {
                // JSONDecoder reports a number that does not fit its Int64 field (1.5, 2^64) as invalid JSON,
                // without a path; say what is wrong when the JSON itself is fine.
                if (try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])) != nil {
                    throw ContractError("a number does not fit its field: ids and quantities are whole numbers within 64 bits")
                }
                throw ContractError("body is not valid JSON")
            }
            throw ContractError("field \(path(context.codingPath)) is not valid: \(context.debugDescription)")
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }
}
