import Contracts
@testable import ExporterCore
import Testing

@testable import exporter

@Suite struct CoalescerTests {
    func message(_ sku: String, _ version: Int64, available: Int64 = 1) -> AvailabilityMessage {
        AvailabilityMessage(
            sku: sku, available: available, onHand: available, reserved: 0, version: version, causes: [], computedAtMillis: 0)
    }

    @Test func aBurstOfOneSKUCollapsesToOneWriteOfTheNewestVersion() {
        var c = Coalescer<Int>()
        for v in 1...1000 { _ = c.add(message("A", Int64(v), available: Int64(1000 - v)), token: v) }
        #expect(c.count == 1)
        let batch = c.take(limit: 250).write
        #expect(batch.count == 1)
        #expect(batch[0].message.version == 1000)
        #expect(batch[0].message.available == 0)
        #expect(batch[0].tokens.count == 1000, "every delivery is settled by the one write")
    }

    @Test func reorderedOlderVersionNeverReplacesANewerOne() {
        var c = Coalescer<Int>()
        #expect(c.add(message("A", 5), token: 1) == .queued)
        #expect(c.add(message("A", 3), token: 2) == .coalesced)
        let batch = c.take(limit: 10).write
        #expect(batch[0].message.version == 5)
        #expect(batch[0].tokens == [1, 2])
    }

    @Test func versionsAtOrBelowWhatTheShopHasAreObsolete() {
        var c = Coalescer<Int>()
        c.markWritten(sku: "A", version: 7)
        #expect(c.add(message("A", 7), token: 1) == .obsolete)
        #expect(c.add(message("A", 6), token: 2) == .obsolete)
        #expect(c.add(message("A", 8), token: 3) == .queued)
        c.markWritten(sku: "A", version: 6)
        #expect(c.writtenVersion("A") == 7, "the written version never moves backwards")
    }

    /// Found by the burst test in CI: version 998 arrived while the write of 1000 was on its way to Shopify, waited,
    /// and was written after it, leaving the shop at 998's value for good.
    @Test func aVersionThatArrivedWhileANewerOneWasBeingWrittenIsNeverWrittenAfterIt() {
        var c = Coalescer<Int>()
        _ = c.add(message("A", 1000, available: 0), token: 1)
        let inFlight = c.take(limit: 10).write
        #expect(c.add(message("A", 998, available: 2), token: 2) == .queued, "1000 is not written yet")
        c.markWritten(sku: "A", version: inFlight[0].message.version)
        let next = c.take(limit: 10)
        #expect(next.write.isEmpty)
        #expect(next.obsolete.map(\.tokens) == [[2]], "998's delivery is acknowledged, not written")
    }

    @Test func aNewerVersionIsHandedToTheWriteInFlightAndNotWrittenTwice() {
        var c = Coalescer<Int>()
        _ = c.add(message("A", 2, available: 12), token: 1)
        let inFlight = c.take(limit: 10).write
        #expect(c.takeNewer(sku: "A", atLeast: 2) == nil, "nothing newer yet")
        _ = c.add(message("A", 1, available: 13), token: 2)
        #expect(c.takeNewer(sku: "A", atLeast: inFlight[0].message.version) == nil, "an older version is not handed over")
        _ = c.add(message("A", 3, available: 1), token: 3)
        let newer = c.takeNewer(sku: "A", atLeast: inFlight[0].message.version)
        #expect(newer?.message.version == 3)
        #expect(newer?.tokens == [2, 3], "the older delivery folded into it is settled with it")
        #expect(c.count == 0)
        #expect(c.take(limit: 10).write.isEmpty, "the version handed over is not written again")
    }

    /// The end-to-end histogram times deliveries, not the read-backs and rewrites of the version written last: those
    /// carry an old message, and timing them from its receipt filled the histogram with seconds of quiet.
    @Test func onlyAWriteThatSettlesDeliveriesIsTimedEndToEnd() {
        var m = message("A", 3)
        m.firstReceivedAtMillis = 1_000
        var c = Coalescer<Int>()
        c.markWritten(sku: "A", version: 3)
        c.rewrite(m, verify: true)
        let readBack = c.take(limit: 10).write[0]
        #expect(ShopWriter.endToEndMillis(of: readBack, nowMillis: 4_000) == nil, "a read-back delivered nothing")
        _ = c.add(message("A", 4), token: 7)
        var delivered = c.take(limit: 10).write[0]
        delivered.message.firstReceivedAtMillis = 3_990
        #expect(ShopWriter.endToEndMillis(of: delivered, nowMillis: 4_000) == 10)
    }

    @Test func aRewriteOfTheVersionWrittenLastStillGoesOut() {
        var c = Coalescer<Int>()
        c.markWritten(sku: "A", version: 4)
        c.rewrite(message("A", 4))
        #expect(c.take(limit: 10).write.map(\.message.version) == [4])
    }

    /// A rewrite of the version written last replaces a waiting older version (which would only be acknowledged as
    /// obsolete) and settles its deliveries; a waiting newer one stays as it is.
    @Test func aRewriteTakesThePlaceOfAnOlderWaitingVersionNotOfANewerOne() {
        var c = Coalescer<Int>()
        _ = c.add(message("A", 2), token: 1)
        c.markWritten(sku: "A", version: 3)
        c.rewrite(message("A", 3))
        let taken = c.take(limit: 10)
        #expect(taken.obsolete.isEmpty)
        #expect(taken.write.map(\.message.version) == [3] && taken.write.first?.tokens == [1])
        _ = c.add(message("A", 5), token: 2)
        c.rewrite(message("A", 3))
        #expect(c.take(limit: 10).write.map(\.message.version) == [5])
    }

    @Test func batchesAreBoundedAndOldestFirst() {
        var c = Coalescer<Int>()
        for i in 0..<600 { _ = c.add(message("S\(i)", 1), token: i) }
        #expect(c.take(limit: 250).write.map(\.message.sku).first == "S0")
        #expect(c.take(limit: 250).write.count == 250)
        #expect(c.take(limit: 250).write.count == 100)
        #expect(c.count == 0)
    }

    @Test func aBatchPutBackMergesWithWhatArrivedMeanwhileAndGoesFirst() {
        var c = Coalescer<Int>()
        _ = c.add(message("A", 1), token: 1)
        _ = c.add(message("B", 1), token: 2)
        let batch = c.take(limit: 1).write
        _ = c.add(message("A", 2), token: 3)
        c.putBack(batch)
        let again = c.take(limit: 10).write
        #expect(again.map(\.message.sku) == ["A", "B"])
        #expect(again[0].message.version == 2)
        #expect(again[0].tokens == [1, 3])
        #expect(c.heldDeliveries == 0)
    }
}

@Suite struct CostBucketTests {
    let t0 = ContinuousClock.now

    @Test func requestsGoAtOnceWhileTheBucketHasPoints() {
        var b = CostBucket(now: t0)
        b.update(maximum: 2000, currentlyAvailable: 2000, restoreRate: 100, at: t0)
        for _ in 0..<199 { #expect(b.reserve(cost: 10, at: t0) == .zero) }
    }

    @Test func anEmptyBucketMakesTheCallerWaitForTheRestoreRate() {
        var b = CostBucket(now: t0)
        b.update(maximum: 2000, currentlyAvailable: 0, restoreRate: 100, at: t0)
        #expect(b.reserve(cost: 10, at: t0) == .milliseconds(100))
        // The next one queues behind the first.
        #expect(b.reserve(cost: 10, at: t0) == .milliseconds(200))
        // A second later, ten points per 100 ms have come back.
        #expect(b.current(at: t0 + .seconds(1)) >= 79.9)
    }

    @Test func throttleStatusFromShopifyReplacesTheGuess() {
        var b = CostBucket(now: t0)
        b.update(maximum: 20000, currentlyAvailable: 19990, restoreRate: 1000, at: t0)
        #expect(b.maximum == 20000)
        #expect(b.restoreRate == 1000)
        #expect(b.current(at: t0 + .seconds(60)) == 20000)
    }

    @Test func retryAfterIsHonouredBeforeAnythingElse() {
        var b = CostBucket(now: t0)
        b.update(maximum: 2000, currentlyAvailable: 2000, restoreRate: 100, at: t0)
        b.throttled(retryAfter: .seconds(2), cost: 10, at: t0)
        #expect(b.reserve(cost: 10, at: t0) >= .seconds(2))
        #expect(b.reserve(cost: 10, at: t0 + .seconds(3)) == .zero)
    }
}

@Suite struct ShopLedgerTests {
    let now = ContinuousClock.now

    @Test func firstWriteNeedsARead() {
        var l = ShopLedger()
        #expect(l.plan(item: "i", target: 5, now: now).changeFrom == nil)
        l.observed(item: "i", actual: 7, now: now)
        #expect(l.plan(item: "i", target: 5, now: now) == (5, 7))
        #expect(l.item("i").unseen == 0, "a first read explains nothing away")
    }

    @Test func ownSaleSeenBeforeAnyStaleAnswerLowersTheBelief() {
        var l = ShopLedger()
        l.wrote(item: "i", quantity: 10)
        // The shop sold 1 (Shopify lowered it to 9); the truth now says 9, caused by this shop's order.
        l.ownSale(item: "i", quantity: 1)
        #expect(l.plan(item: "i", target: 9, now: now) == (9, 9))
    }

    @Test func staleAnswerHoldsBackTheUnseenSaleUntilItsOrderArrives() {
        var l = ShopLedger()
        l.wrote(item: "i", quantity: 10)
        // Another shop's sale: truth 9. Meanwhile this shop sold 1 we have not seen (it holds 9).
        #expect(l.plan(item: "i", target: 9, now: now) == (9, 10))
        l.observed(item: "i", actual: 9, now: now)  // CHANGE_FROM_QUANTITY_STALE, read back 9
        // Writing 9 would give the unit back: write 8.
        #expect(l.plan(item: "i", target: 9, now: now) == (8, 9))
        l.wrote(item: "i", quantity: 8)
        // Later this shop's order arrives: truth 8, and the hold-back is released, not subtracted again.
        l.ownSale(item: "i", quantity: 1)
        #expect(l.plan(item: "i", target: 8, now: now) == (8, 8))
    }

    @Test func unitsThatCameBackOutsideStockwireAreLeftToTheTruth() {
        var l = ShopLedger()
        l.wrote(item: "i", quantity: 3)
        l.observed(item: "i", actual: 5, now: now)
        #expect(l.plan(item: "i", target: 3, now: now) == (3, 5))
    }

    @Test func unexplainedLossExpires() {
        var l = ShopLedger(unseenTTL: .seconds(60))
        l.wrote(item: "i", quantity: 10)
        l.observed(item: "i", actual: 8, now: now)
        #expect(l.plan(item: "i", target: 10, now: now).quantity == 8)
        #expect(l.plan(item: "i", target: 10, now: now + .seconds(61)).quantity == 10)
    }

    @Test func aSaleAnnouncedWhileAWriteIsInFlightIsNotCountedTwice() {
        var l = ShopLedger()
        l.wrote(item: "i", quantity: 10)
        // We write 10 → 9 (another shop sold one). While the call is on its way, this shop sells one *after* our
        // write took effect, and its order reaches the truth before Shopify's answer reaches us.
        #expect(l.plan(item: "i", target: 9, now: now) == (9, 10))
        l.beginWrite(items: ["i"])
        l.ownSale(item: "i", quantity: 1)
        l.wrote(item: "i", quantity: 9)
        // The shop holds 8 and the truth is 8: no stale answer, no loss held back.
        #expect(l.plan(item: "i", target: 8, now: now) == (8, 8))
        #expect(l.item("i").unseen == 0)
    }

    @Test func aFailedWriteForgetsTheSalesCountedDuringIt() {
        var l = ShopLedger()
        l.wrote(item: "i", quantity: 10)
        l.beginWrite(items: ["i"])
        l.ownSale(item: "i", quantity: 2)  // the sale happened before our write: the compare-and-set fails
        l.writeFailed(items: ["i"])
        l.observed(item: "i", actual: 8, now: now)
        #expect(l.item("i").unseen == 0, "the read shows the sale the truth already has")
        l.wrote(item: "i", quantity: 8)
        #expect(l.plan(item: "i", target: 8, now: now) == (8, 8))
    }

    @Test func aSaleAndARestockInTheSameChangeStillExplainTheLoss() {
        // Shop sold 1 (seen as loss by a read), then cancelled another order (Shopify restocked 1): the truth's
        // net change for this shop is 0, its gross sales 1. With the gross figure the hold-back is released.
        var l = ShopLedger()
        l.wrote(item: "i", quantity: 10)
        l.observed(item: "i", actual: 9, now: now)
        #expect(l.plan(item: "i", target: 10, now: now).quantity == 9)
        l.ownSale(item: "i", quantity: 1)
        #expect(l.item("i").unseen == 0)
        l.observed(item: "i", actual: 10, now: now)  // the restock
        #expect(l.plan(item: "i", target: 10, now: now) == (10, 10))
    }

    @Test func aConfirmedLevelEqualToTheTargetNeedsNoWrite() {
        var l = ShopLedger()
        #expect(!l.holds(item: "i", quantity: 0), "nothing is known of an item never read or written")
        l.observed(item: "i", actual: 7, now: now)
        #expect(l.holds(item: "i", quantity: 7))
        #expect(!l.holds(item: "i", quantity: 6))
        l.wrote(item: "i", quantity: 6)
        #expect(l.holds(item: "i", quantity: 6))
        l.forgetBelieved(item: "i")
        #expect(!l.holds(item: "i", quantity: 6), "a resync reads the shop again")
    }

    @Test func aSaleOverwrittenByACompareAndSetThatABARestockLetThroughIsWrittenBackNotSkipped() {
        // Black-friday drift: we believe the shop holds 10. Before our write lands the shop sells one (9) and
        // restocks one of a cancelled order (10): the value is back to 10, so our compare-and-set from 10 succeeds
        // and writes 10 over the sale. That sale's order reaches the truth while the write is in flight, so the
        // ledger derives 10 − 1 = 9, but the shop holds 10. The truth then says 9 (sale in, cancel not yet): a
        // write must go out — skipping because "the shop holds 9" left it one unit above the truth for good.
        var l = ShopLedger()
        l.wrote(item: "i", quantity: 10)
        #expect(l.plan(item: "i", target: 10, now: now) == (10, 10))
        l.beginWrite(items: ["i"])
        l.ownSale(item: "i", quantity: 1)
        l.wrote(item: "i", quantity: 10)
        #expect(l.plan(item: "i", target: 9, now: now) == (9, 9))
        #expect(!l.holds(item: "i", quantity: 9), "a derived belief is not a reason to skip the write")
        // Shopify answers stale (it holds 10); the read shows more than believed, which adds no hold-back.
        l.observed(item: "i", actual: 10, now: now)
        #expect(l.plan(item: "i", target: 9, now: now) == (9, 10))
        #expect(l.item("i").unseen == 0)
    }

    @Test func anOwnSaleOutsideAWriteKeepsTheBeliefExactButDuringAWriteMakesItAGuess() {
        // The shop held 10 (confirmed) and sold 1: Shopify took it off, the shop holds 9 — no write needed.
        var l = ShopLedger()
        l.wrote(item: "i", quantity: 10)
        l.ownSale(item: "i", quantity: 1)
        #expect(l.holds(item: "i", quantity: 9))
        // The same sale announced while a write was in flight: it may have happened before the write took effect.
        l.beginWrite(items: ["i"])
        l.ownSale(item: "i", quantity: 1)
        l.wrote(item: "i", quantity: 9)
        #expect(!l.holds(item: "i", quantity: 8))
        l.wrote(item: "i", quantity: 8)
        #expect(l.holds(item: "i", quantity: 8))
    }

    @Test func aCancellationInTheShopIsNotSkippedOver() {
        // Black-friday drift: we wrote 79 (confirmed). The shop then cancels an order and Shopify restocks it (80).
        // The truth's next value is 79 again (that cancel, and a sale elsewhere): the shop must be written.
        var l = ShopLedger()
        l.wrote(item: "i", quantity: 79)
        #expect(l.holds(item: "i", quantity: 79))
        l.ownRestock(item: "i", quantity: 1)
        #expect(l.item("i").believed == 80, "Shopify restocked the unit in the shop")
        #expect(!l.holds(item: "i", quantity: 80), "a restock is assumed, not known (it may have been unticked)")
        #expect(!l.holds(item: "i", quantity: 79))
        // The same cancellation announced while a write was in flight leaves that write unconfirmed.
        l.beginWrite(items: ["i"])
        l.ownRestock(item: "i", quantity: 1)
        l.wrote(item: "i", quantity: 79)
        #expect(l.item("i").believed == 80)
        #expect(!l.holds(item: "i", quantity: 80))
    }

    @Test func aRestockReadBeforeItIsAnnouncedIsNotAddedTwice() {
        // Black-friday drift: the shop restocked a cancelled order's unit (11); a stale answer made us read it first.
        // When the cancellation is announced, the belief must stay 11 — adding it again made the next read look
        // like a lost unit, held back from the shop for 15 minutes.
        var l = ShopLedger()
        l.wrote(item: "i", quantity: 10)
        l.observed(item: "i", actual: 11, now: now)
        l.ownRestock(item: "i", quantity: 1)
        #expect(l.item("i").believed == 11)
        l.observed(item: "i", actual: 11, now: now)
        #expect(l.item("i").unseen == 0)
    }

    @Test func echoOfOurOwnWriteIsRecognised() {
        var l = ShopLedger()
        l.wrote(item: "i", quantity: 4)
        #expect(l.isEcho(item: "i", available: 4))
        #expect(!l.isEcho(item: "i", available: 3))
    }
}

@Suite struct AnnouncedVersionsTests {
    @Test func everyVersionIsTakenInOnceWhateverTheOrder() {
        var a = AnnouncedVersions(first: 36)
        let taken = [36, 38, 37, 37, 38, 36].map { a.insert(Int64($0)) }
        // 38 before 37 (the outbox sent 37 again after a broker outage): 37 still carries its sale; redeliveries
        // are not taken in twice.
        #expect(taken == [true, true, true, false, false, false])
        #expect(a.floor == 38 && a.above.isEmpty, "consecutive versions compact into the floor")
    }

    @Test func versionsBeforeTheFirstSeenAreTakenAsSeenAndTheSetStaysBounded() {
        var a = AnnouncedVersions(first: 100)
        let older = a.insert(99)
        #expect(!older)
        for v in stride(from: 102, through: 400, by: 2) { _ = a.insert(Int64(v)) }
        #expect(a.above.count <= AnnouncedVersions.limit)
    }
}
