import AMQP
import Contracts
import Foundation
import Testing

@Suite struct EventEnvelopeTests {
    @Test func envelopeRoundTripsThroughAMQPMessageWithBodyUnchanged() throws {
        let body = Array(#"{"id":9007199254740993,"line_items":[]}"#.utf8)
        let e = EventEnvelope(
            source: .shopify, shop: "acme.myshopify.com", topic: "orders/create", deliveryId: "w-1", eventId: "e-1",
            triggeredAt: "2026-11-26T10:00:00Z", apiVersion: "2026-10", receivedAtMillis: 1_790_000_000_123, body: body)
        let m = e.message()
        #expect(m.exchange == "stockwire.events")
        #expect(m.routingKey == "shopify.orders.create")
        #expect(m.properties.messageId == "acme.myshopify.com/w-1")
        #expect(m.properties.persistent && m.mandatory)
        #expect(m.body == body)
        #expect(try EventEnvelope(body: m.body, properties: m.properties) == e)
    }

    @Test func unknownSchemaVersionIsRefusedWithAClearMessage() {
        var props = EventEnvelope(
            source: .warehouse, shop: nil, topic: "receipt", deliveryId: "m1", receivedAtMillis: 1, body: []
        )
        .message().properties
        props.headers["x-schema-version"] = .int64(99)
        #expect(throws: ContractError("event schema version 99 is not supported (this build reads 1)")) {
            try EventEnvelope(body: [], properties: props)
        }
    }
}

@Suite struct StockMovementTests {
    func parse(_ json: String) throws -> [StockMovement] { try StockMovement.parse(Array(json.utf8)) }

    func error(_ json: String) -> String? {
        do {
            _ = try parse(json)
            return nil
        } catch let e as ContractError {
            return e.message
        } catch { return "\(error)" }
    }

    @Test func validReceiptAndShipmentParse() throws {
        let r = try parse(#"{"movement_id":"r-1","sku":"TSHIRT-M","kind":"receipt","quantity":12,"warehouse":"main"}"#)
        #expect(r == [StockMovement(movementId: "r-1", sku: "TSHIRT-M", kind: .receipt, quantity: 12, warehouse: "main")])
        let s = try parse(
            #"{"movement_id":"s-1","sku":"A","kind":"shipment","quantity":1,"shop":"a.myshopify.com","order_id":9007199254740993,"line_item_id":5}"#
        )
        #expect(s.first?.orderId == 9_007_199_254_740_993)
    }

    @Test func arrayFormCarriesAWholeStocktake() throws {
        let m = try parse(
            #"[{"movement_id":"t-1","sku":"A","kind":"stocktake","quantity":0},{"movement_id":"t-2","sku":"B","kind":"stocktake","quantity":7}]"#
        )
        #expect(m.map(\.quantity) == [0, 7])
    }

    @Test func everyRuleNamesItsField() {
        #expect(error("nope") == "body is not valid JSON: send one movement object or an array of them")
        #expect(error(#"{"sku":"A","kind":"receipt","quantity":1}"#) == "movement_id: is required")
        #expect(error(#"{"movement_id":"x","sku":"","kind":"receipt","quantity":1}"#) == "sku: must not be empty")
        #expect(error(#"{"movement_id":"x","sku":"A","kind":"gift","quantity":1}"#)?.hasPrefix("kind: must be one of") == true)
        #expect(error(#"{"movement_id":"x","sku":"A","kind":"receipt","quantity":1.5}"#) == "quantity: must be a whole number")
        #expect(error(#"{"movement_id":"x","sku":"A","kind":"receipt","quantity":"3"}"#) == "quantity: must be an integer")
        #expect(error(#"{"movement_id":"x","sku":"A","kind":"receipt","quantity":true}"#) == "quantity: must be an integer")
        #expect(
            error(#"{"movement_id":"x","sku":"A","kind":"receipt","quantity":0}"#)
                == "quantity: must be greater than 0 for a receipt")
        #expect(
            error(#"{"movement_id":"x","sku":"A","kind":"correction","quantity":0}"#)
                == "quantity: must not be 0 for a correction (it is a delta)")
        #expect(
            error(#"{"movement_id":"x","sku":"A","kind":"stocktake","quantity":-1}"#)
                == "quantity: must be 0 or more for a stocktake (the counted units)")
        #expect(error(#"{"movement_id":"x","sku":"A","kind":"shipment","quantity":1}"#) == "shop: is required")
        #expect(
            error(
                #"{"movement_id":"x","sku":"A","kind":"shipment","quantity":1,"shop":"acme shop","order_id":1,"line_item_id":2}"#)?
                .hasPrefix("shop: 'acme shop' is not a shop domain") == true)
        #expect(
            error(#"{"movement_id":"x","sku":"A","kind":"receipt","quantity":1,"qty":2}"#)?.hasPrefix("qty: unknown field")
                == true)
        #expect(
            error(
                #"[{"movement_id":"x","sku":"A","kind":"receipt","quantity":1},{"movement_id":"x","sku":"B","kind":"receipt","quantity":1}]"#
            ) == "[1].movement_id: 'x' appears twice in this request")
        #expect(error("[]") == "the array of movements is empty")
        #expect(
            error(#"{"movement_id":"x","sku":"A","kind":"receipt","quantity":1,"order_id":3}"#)
                == "shop: shop, order_id and line_item_id belong to shipments only")
    }

    @Test func aShipmentsShopIsNormalisedAsIngestNormalisesShopifysHeader() throws {
        let parsed = try parse(
            #"{"movement_id":"s","sku":"A","kind":"shipment","quantity":1,"shop":" Acme.MyShopify.com","order_id":1,"line_item_id":2}"#
        )
        #expect(parsed.first?.shop == "acme.myshopify.com")
    }

    @Test func correctionsMayBeNegative() throws {
        #expect(try parse(#"{"movement_id":"c","sku":"A","kind":"correction","quantity":-4}"#).first?.quantity == -4)
    }

    @Test func publishedJSONParsesBackToTheSameMovement() throws {
        let m = StockMovement(
            movementId: "s", sku: "A", kind: .shipment, quantity: 2, shop: "a.myshopify.com", orderId: 1, lineItemId: 2)
        #expect(try StockMovement.parse(m.json()) == [m])
    }
}

@Suite struct AvailabilityMessageTests {
    @Test func roundTripsAndRefusesUnknownVersions() throws {
        let m = AvailabilityMessage(
            sku: "A", available: 3, onHand: 5, reserved: 2, version: 42, causes: ["s/1"], originShop: "a.myshopify.com",
            originQuantity: 1, firstReceivedAtMillis: 10, computedAtMillis: 11)
        #expect(try AvailabilityMessage.decode(m.json()) == m)
        var future = m
        future.schemaVersion = 2
        #expect(throws: ContractError.self) { try AvailabilityMessage.decode(future.json()) }
    }
}
