import Foundation
import ShopifySimulator
import Testing

@Suite struct PureLogicTests {
    @Test func bucketDrainsAndRestoresOverTime() {
        var bucket = LeakyBucket(plan: .standard, now: 0)
        #expect(bucket.currentlyAvailable(at: 0) == 2_000)
        var taken = 0
        for _ in 0..<201 where bucket.consume(10, at: 0) { taken += 1 }
        #expect(taken == 200)
        #expect(bucket.secondsUntilAvailable(10, at: 0) == 1)
        #expect(bucket.currentlyAvailable(at: 0.5) == 50)
        let tookFifty = bucket.consume(50, at: 0.5)
        #expect(tookFifty)
        #expect(bucket.currentlyAvailable(at: 100) == 2_000)
    }

    @Test func retryAfterCoversTheMissingPoints() {
        var bucket = LeakyBucket(plan: RateLimitPlan(restoreRate: 10, maximumAvailable: 100), now: 0)
        bucket.drain(at: 0)
        #expect(bucket.secondsUntilAvailable(25, at: 0) == 3)
    }

    @Test func jsonKeepsIntegersAndFloatsApart() throws {
        let value = try JSONValue.parse(#"{"id":9007199254740993,"cost":2000.0,"s":"a\"b"}"#)
        #expect(value["id"] == .int(9_007_199_254_740_993))
        #expect(value.jsonString == #"{"cost":2000.0,"id":9007199254740993,"s":"a\"b"}"#)
    }

    @Test func planPresetsDecodeByName() throws {
        let config = try JSONDecoder().decode(
            SimulatorConfiguration.self,
            from: Data(#"{"shops":[{"domain":"a.myshopify.com","accessToken":"t","webhookSecret":"s","plan":"plus"}]}"#.utf8))
        #expect(config.shops[0].plan == .plus)
        #expect(config.timeScale == 1.0 / 600.0)
    }
}
