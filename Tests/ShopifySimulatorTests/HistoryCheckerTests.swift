import ShopifySimulator
import Testing

/// The fault suite's checker (`stockwire-scenario faults`): each figure is computed from plain values, so every
/// kind of failure it must catch is built here by hand.
@Suite struct HistoryCheckerTests {
    @Test func anAcknowledgedEventTheTruthNeverAppliedIsLostAndOneInTheDeadLettersIsSaidToBeThere() {
        let (lost, inDead) = HistoryChecker.lost(
            accepted: ["a/1", "a/2", "warehouse/r-1", "warehouse/r-2"], applied: ["a/1", "warehouse/r-1", "a/9"],
            deadLettered: ["warehouse/r-2"])
        #expect(lost == ["a/2", "warehouse/r-2"])
        #expect(inDead == ["warehouse/r-2"])
        #expect(HistoryChecker.lost(accepted: ["a/1"], applied: ["a/1", "a/2"], deadLettered: []).lost.isEmpty)
    }

    @Test func anAppliedEventNobodySentIsUnexpected() {
        #expect(HistoryChecker.unexpected(applied: ["a/1", "a/2", "b/7"], sent: ["a/1", "a/2", "a/3"]) == ["b/7"])
        #expect(HistoryChecker.unexpected(applied: [], sent: ["a/1"]).isEmpty)
    }

    @Test func anEventAmongTheCausesOfTwoVersionsOfOneSkuWasAppliedTwice() {
        let history = [
            HistoryChecker.SkuVersion(sku: "S", version: 1, causes: ["w/1", "a/1"]),
            HistoryChecker.SkuVersion(sku: "S", version: 2, causes: ["a/2"]),
            HistoryChecker.SkuVersion(sku: "S", version: 3, causes: ["a/1"]),
            // One event moving two SKUs in one transaction is applied once.
            HistoryChecker.SkuVersion(sku: "T", version: 4, causes: ["a/2", "a/2"]),
        ]
        let repeated = HistoryChecker.appliedMoreThanOnce(history)
        #expect(repeated.map(\.messageId) == ["a/1"])
        #expect(repeated.first?.sku == "S")
        #expect(repeated.first?.versions == [1, 3])
        #expect(HistoryChecker.appliedMoreThanOnce(Array(history.prefix(2))).isEmpty)
    }

    @Test func unitsAppliedBeyondWhatWasSentAreAnExcessAndAShortfallIsNot() {
        let excess = HistoryChecker.excess(
            applied: ["line-1": 4, "line-2": 1, "line-3": 2], sent: ["line-1": 2, "line-2": 1, "line-3": 5])
        #expect(excess == ["line-1": 2])
        #expect(HistoryChecker.excess(applied: ["SKU": 3], sent: [:]) == ["SKU": 3])
    }

    @Test func anOrderWhoseAppliedSnapshotIsOlderThanTheNewestSentWasRolledBack() {
        let rolled = HistoryChecker.rolledBack(
            applied: ["a/1": 1_000, "a/2": 5_000, "a/3": 7_000], newest: ["a/1": 2_000, "a/2": 5_000, "a/3": 6_000, "a/4": 1])
        #expect(rolled.keys.sorted() == ["a/1"])
        #expect(rolled["a/1"]?.applied == 1_000)
        #expect(rolled["a/1"]?.newest == 2_000)
    }

    @Test func aWriteOfAnOlderVersionAfterANewerOneIsStaleAndRewritingTheSameVersionIsNot() {
        typealias W = HistoryChecker.ShopWrite
        let writes = [
            W(shop: "a", sku: "S", version: 3, atMillis: 100, sequence: 1),
            W(shop: "a", sku: "S", version: 5, atMillis: 200),
            W(shop: "a", sku: "S", version: 5, atMillis: 250, sequence: 7),
            W(shop: "a", sku: "S", version: 4, atMillis: 300, sequence: 9),
            // Another shop and another SKU have their own order.
            W(shop: "b", sku: "S", version: 4, atMillis: 400),
            W(shop: "a", sku: "T", version: 1, atMillis: 500),
        ]
        let stale = HistoryChecker.staleWrites(writes)
        #expect(stale.count == 1)
        #expect(stale.first?.write.version == 4)
        #expect(stale.first?.write.shop == "a")
        #expect(stale.first?.newerBefore == 5)
        // The order comes from the time, not from the position in the input.
        #expect(HistoryChecker.staleWrites(writes.reversed()).count == 1)
        #expect(HistoryChecker.staleWrites(Array(writes.prefix(3))).isEmpty)
    }

    @Test func writesWithinOneMillisecondAreOrderedByTheirPositionInTheWriteLog() {
        typealias W = HistoryChecker.ShopWrite
        let stale = HistoryChecker.staleWrites([
            W(shop: "a", sku: "S", version: 2, atMillis: 100, sequence: 2), W(shop: "a", sku: "S", version: 3, atMillis: 100, sequence: 1),
        ])
        #expect(stale.map(\.write.version) == [2])
    }

    @Test func whenEveryWriteHasItsPlaceInTheShopsOrderThePlaceDecidesNotTheTime() {
        typealias W = HistoryChecker.ShopWrite
        // v4 applied first but logged a millisecond later than v5 (two clocks, or two calls in flight): in order.
        #expect(
            HistoryChecker.staleWrites([
                W(shop: "a", sku: "S", version: 5, atMillis: 100, sequence: 2), W(shop: "a", sku: "S", version: 4, atMillis: 101, sequence: 1),
            ]).isEmpty)
        // The same writes applied the other way round: stale, whatever the clocks say.
        let stale = HistoryChecker.staleWrites([
            W(shop: "a", sku: "S", version: 5, atMillis: 101, sequence: 1), W(shop: "a", sku: "S", version: 4, atMillis: 100, sequence: 2),
        ])
        #expect(stale.map(\.write.version) == [4])
        #expect(stale.first?.newerBefore == 5)
    }

    @Test func theVersionOfASingleSkuWriteIsReadFromItsReferenceAndABatchNamesNone() {
        let single = HistoryChecker.stockVersion(reference: "gid://stockwire/StockVersion/BF-1a2b-17/42")
        #expect(single?.sku == "BF-1a2b-17")
        #expect(single?.version == 42)
        #expect(HistoryChecker.stockVersion(reference: "gid://stockwire/StockBatch/0F3C-77") == nil)
        let odd = HistoryChecker.stockVersion(reference: "gid://stockwire/StockVersion/TEE%20BLUE%20M%2F2/7")
        #expect(odd?.sku == "TEE BLUE M/2" && odd?.version == 7, "a percent-encoded SKU is read back as it was")
        #expect(HistoryChecker.stockVersion(reference: "gid://stockwire/StockVersion/S/x") == nil)
        #expect(HistoryChecker.stockVersion(reference: "gid://stockwire/StockVersion/7") == nil)
    }

    @Test func aVersionPublishedAgainIsARepublicationAndWithOtherContentAConflict() {
        typealias P = HistoryChecker.Publication
        let order = HistoryChecker.publicationOrder([
            P(sku: "S", version: 1, content: "a"), P(sku: "S", version: 2, content: "b"), P(sku: "S", version: 2, content: "b"),
            P(sku: "S", version: 1, content: "a"), P(sku: "T", version: 1, content: "x"), P(sku: "S", version: 3, content: "c"),
            P(sku: "S", version: 3, content: "c2"),
        ])
        #expect(order.republished == 3)
        #expect(order.outOfOrder == [P(sku: "S", version: 1, content: "a")])
        #expect(order.conflicting == [P(sku: "S", version: 3, content: "c2")])
        let clean = HistoryChecker.publicationOrder([P(sku: "S", version: 1, content: "a"), P(sku: "S", version: 2, content: "b")])
        #expect(clean.republished == 0 && clean.outOfOrder.isEmpty && clean.conflicting.isEmpty)
    }

    @Test func unitsSoldBeyondEveryUnitReceivedAreOversold() {
        #expect(HistoryChecker.oversold(sold: ["A": 10, "B": 3, "C": 1], received: ["A": 8, "B": 3]) == ["A": 2, "C": 1])
    }

    @Test func thePublishedAreBalancedOnlyWhenEachIsAppliedOrDeadLetteredAndNothingRemains() {
        let ok = HistoryChecker.account(
            published: ["a/1", "a/2", "p/1"], applied: ["a/1", "a/2"], deadLettered: ["p/1"], remaining: 0)
        #expect(ok.balanced)
        #expect(ok.published == 3 && ok.applied == 2 && ok.deadLettered == 1)

        let gone = HistoryChecker.account(published: ["a/1", "a/2"], applied: ["a/1"], deadLettered: [], remaining: 0)
        #expect(!gone.balanced)
        #expect(gone.unaccounted == ["a/2"])

        let twice = HistoryChecker.account(published: ["a/1"], applied: ["a/1"], deadLettered: ["a/1"], remaining: 0)
        #expect(!twice.balanced)
        #expect(twice.both == ["a/1"])

        let fromNowhere = HistoryChecker.account(published: ["a/1"], applied: ["a/1", "x/9"], deadLettered: [], remaining: 0)
        #expect(fromNowhere.appliedNotPublished == ["x/9"])
        #expect(!fromNowhere.balanced)

        #expect(!HistoryChecker.account(published: ["a/1"], applied: ["a/1"], deadLettered: [], remaining: 1).balanced)
    }
}
