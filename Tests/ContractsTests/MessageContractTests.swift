import AMQP
import Contracts
import Testing

@Suite struct MessageContractTests {
    /// Every contract's messages are JSON, persistent, typed, and carry the schema version a consumer checks; a
    /// publisher that knows only the type (the calculator's outbox) finds the same contract.
    @Test func everyContractsPropertiesCarryItsTypeAndSchemaVersion() {
        #expect(MessageContracts.all.count == Set(MessageContracts.all.map { $0.messageType }).count, "types are unique")
        for contract in MessageContracts.all {
            let p = contract.properties(messageId: "m-1", timestampMillis: 1_790_000_000_999, headers: ["shop": "a"])
            #expect(p.type == contract.messageType && p.contentType == "application/json" && p.persistent)
            #expect(p.headers[MessageContracts.schemaVersionHeader] == .int64(Int64(contract.currentSchemaVersion)))
            #expect(p.headers["shop"] == .string("a") && p.messageId == "m-1" && p.timestamp == 1_790_000_000)
            #expect(MessageContracts.contract(ofType: contract.messageType) == contract)
        }
        #expect(MessageContracts.contract(ofType: "stockwire.unknown") == nil)
    }

    /// The calculator's topology under other names (tests, a second deployment on one broker) has the standard
    /// shape and touches none of the standard names.
    @Test func theCalculatorsTopologyUnderOtherNamesHasTheSameShapeAndNoStandardName() {
        var n = StockwireTopology.CalculatorNames()
        #expect(StockwireTopology.calculator(n) == StockwireTopology.calculator())
        n.queue = "t.q"
        n.eventsExchange = "t.events"
        n.deadExchange = "t.dead"
        n.availabilityExchange = "t.availability"
        n.catalogExchange = "t.catalog"
        n.requestQueue = "t.requests"
        n.writesExchange = "t.writes"
        n.writesQueue = "t.writes-q"
        let custom = StockwireTopology.calculator(n)
        let standard = StockwireTopology.calculator()
        #expect(custom.count == standard.count)
        let names: (AMQPTopology) -> [String] = { item in
            switch item {
            case .exchange(let name, _, _), .queue(let name, _): [name]
            case .binding(let queue, let exchange, _, _): [queue, exchange]
            }
        }
        let customNames = Set(custom.flatMap(names))
        #expect(customNames.allSatisfy { $0.hasPrefix("t.") || $0.hasPrefix("dead.t.") }, "\(customNames.sorted())")
    }
}
