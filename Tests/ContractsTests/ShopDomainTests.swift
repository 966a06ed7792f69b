import AMQP
import Contracts
import Foundation
import Testing

@Suite struct ShopDomainTests {
    /// Text from outside, as ingest and the shops file read it (`ShopDomain("…")` with a literal is the literal
    /// initialiser instead).
    func parse(_ text: String) throws -> ShopDomain { try ShopDomain(text) }

    @Test func capitalsAndSurroundingWhitespaceAreNormalisedAway() throws {
        let domain = try parse("  Acme.MyShopify.COM\t\n")
        #expect(domain.description == "acme.myshopify.com")
        #expect(domain == (try parse("acme.myshopify.com")))
        #expect(Set([domain, try parse("ACME.myshopify.com")]).count == 1, "equal domains hash alike")
        #expect(try parse("a.myshopify.com") < (try parse("B.myshopify.com")), "ordered by normalised text")
    }

    @Test func textThatIsNoDomainIsRefusedWithAMessageNamingItAndTheRule() {
        for bad in [
            "", "   ", "acme", "acme_shop.myshopify.com", "acme.myshopify.com/admin", "acme myshop.com",
            "ácme.myshopify.com", String(repeating: "a", count: 252) + ".com",
        ] {
            #expect(throws: ContractError.self, "\(bad)") { try ShopDomain(bad) }
        }
        // A variable, not a literal: `ShopDomain("…")` with a literal is the literal initialiser, which traps.
        let underscore = "shop_a.example"
        #expect(
            throws: ContractError(
                "'shop_a.example' is not a shop domain like name.myshopify.com (letters, digits, '-' and '.', at least one "
                    + "'.', at most 255 characters)")
        ) { try ShopDomain(underscore) }
    }

    @Test func itTravelsInJSONAsAPlainStringOfItsNormalisedText() throws {
        struct Carrier: Codable, Equatable { var shop: ShopDomain }
        let json = try JSONEncoder().encode(Carrier(shop: try parse("Acme.myshopify.com")))
        #expect(String(decoding: json, as: UTF8.self) == #"{"shop":"acme.myshopify.com"}"#)
        #expect(try JSONDecoder().decode(Carrier.self, from: json) == Carrier(shop: "acme.myshopify.com"))
        // What older senders wrote (any case) reads as the normalised domain; what is no domain fails the decoding.
        let upper = try JSONDecoder().decode(Carrier.self, from: Data(#"{"shop":" ACME.myshopify.com"}"#.utf8))
        #expect(upper.shop.description == "acme.myshopify.com")
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(Carrier.self, from: Data(#"{"shop":"no domain"}"#.utf8)) }
    }

    @Test func theMessagesCarryingAShopKeepTheirJSON() throws {
        let request = try ResyncRequest(shop: ShopDomain("Acme.myshopify.com"), requestedAtMillis: 5).json()
        #expect(
            String(decoding: request, as: UTF8.self) == #"{"requested_at_ms":5,"schema_version":1,"shop":"acme.myshopify.com"}"#)
        #expect(try ResyncRequest.decode(request).shop == "acme.myshopify.com")
        #expect(throws: ContractError.self) {
            try ResyncRequest.decode(Array(#"{"requested_at_ms":5,"schema_version":1,"shop":""}"#.utf8))
        }
    }

    @Test func anEventsShopHeaderIsReadAsADomain() throws {
        let e = EventEnvelope(
            source: .shopify, shop: try parse("Acme.myshopify.com"), topic: "orders/create", deliveryId: "w-1",
            receivedAtMillis: 1, body: [])
        var message = e.message()
        #expect(message.properties.headers["shop"]?.stringValue == "acme.myshopify.com")
        #expect(message.properties.messageId == "acme.myshopify.com/w-1")
        message.properties.headers["shop"] = .string("not a shop")
        #expect(throws: ContractError.self) { try EventEnvelope(body: [], properties: message.properties) }
        message.properties.headers["shop"] = .string("")
        #expect(try EventEnvelope(body: [], properties: message.properties).shop == nil, "empty reads as none, as before")
    }
}
