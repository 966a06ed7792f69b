import Contracts
import StockCore

/// A shop platform's inbound side in the calculator: reads the webhooks ingest verified into stock events. Shopify is
/// one (`Shopify/ShopifyEventDecoder.swift`); ingest's side is `WebhookPlatform`. A second platform is a folder of
/// its own and one entry in ``EventDecoder/platforms``.
protocol PlatformEventDecoder: Sendable {
    /// Reads one webhook of `shop` (its topic and body in `envelope`) into a stock event, ``StockEvent/ignored(_:)``
    /// for a topic that moves no stock; throws a `ContractError` naming the field and the rule when it cannot.
    func decode(_ envelope: EventEnvelope, shop: ShopDomain) throws -> StockEvent
}
