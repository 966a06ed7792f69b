import Foundation
@testable import ShopifySimulator
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

@Suite struct TimestampTests {
    @Test func handWrittenTimestampsMatchFoundationsFormatters() {
        let iso = ISO8601DateFormatter()
        iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var calendar = Calendar(identifier: .gregorian)
        var seed: UInt64 = 1
        for i in 0..<3_000 {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            // 1900…2100, with the leap days, month ends and year ends among them.
            let seconds = Double(Int64(seed >> 11) % 6_311_390_400) - 2_208_988_800 + Double(i % 1000) / 1000
            let date = Date(timeIntervalSince1970: seconds)
            #expect(Timestamp.precise(date) == iso.string(from: date), "\(seconds)")
            for offset in [-600, -240, 0, 330, 765] {
                calendar.timeZone = TimeZone(secondsFromGMT: offset * 60)!
                let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
                let expected =
                    String(format: "%04d-%02d-%02dT%02d:%02d:%02d", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
                    + (offset < 0 ? "-" : "+") + String(format: "%02d:%02d", abs(offset) / 60, abs(offset) % 60)
                #expect(Timestamp.rest(date, utcOffsetMinutes: offset) == expected, "\(seconds) \(offset)")
            }
        }
        #expect(Timestamp.precise(Date(timeIntervalSince1970: 951_782_400.5)) == "2000-02-29T00:00:00.500Z")
    }

    @Test func preciseStampsParseBackAsFoundationParsesThem() {
        let iso = ISO8601DateFormatter()
        iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var seed: UInt64 = 7
        for i in 0..<3_000 {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let seconds = Double(Int64(seed >> 11) % 6_311_390_400) - 2_208_988_800 + Double(i % 1000) / 1000
            let stamp = Timestamp.precise(Date(timeIntervalSince1970: seconds))
            let parsed = Timestamp.parsePrecise(stamp)
            #expect(parsed != nil && parsed == iso.date(from: stamp), "\(stamp)")
        }
        for text in ["", "2026-05-15T14:20:30Z", "2026-05-15T14:20:30.123+00:00", "2026-13-15T14:20:30.123Z", "2026-05-15 14:20:30.123Z",
            "2026-05-1xT14:20:30.123Z"]
        {
            #expect(Timestamp.parsePrecise(text) == nil, "\(text)")
        }
    }
}
