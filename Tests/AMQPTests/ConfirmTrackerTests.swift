import Testing

@testable import AMQP

@Suite struct ConfirmTrackerTests {
    typealias Tracker = ConfirmTracker<Int>

    @Test func tagsCountUpFromOne() {
        var t = Tracker()
        #expect(t.register(10, messageId: "a") == 1)
        #expect(t.register(11, messageId: "b") == 2)
        #expect(t.waiting == 2)
    }

    @Test func singleAckConfirmsOnlyThatTag() {
        var t = Tracker()
        _ = t.register(1, messageId: nil)
        _ = t.register(2, messageId: nil)
        let out = t.ack(tag: 2, multiple: false)
        #expect(out.map(\.0) == [2])
        #expect(out.map(\.1) == [.confirmed])
        #expect(t.waiting == 1)
    }

    @Test func multipleAckConfirmsEverythingUpToTheTag() {
        var t = Tracker()
        for i in 1...5 { _ = t.register(i, messageId: nil) }
        _ = t.ack(tag: 2, multiple: false)
        let out = t.ack(tag: 4, multiple: true)
        #expect(out.map(\.0).sorted() == [1, 3, 4])
        #expect(t.waiting == 1)
        #expect(t.ack(tag: 5, multiple: true).map(\.0) == [5])
        #expect(t.outstanding == 0)
    }

    @Test func nackReportsRefusal() {
        var t = Tracker()
        _ = t.register(1, messageId: nil)
        _ = t.register(2, messageId: nil)
        let out = t.nack(tag: 2, multiple: true)
        #expect(out.map(\.1) == [.nacked, .nacked])
    }

    @Test func returnedMandatoryMessageIsUnroutableNotConfirmed() {
        var t = Tracker()
        _ = t.register(1, messageId: "kept")
        _ = t.register(2, messageId: "lost")
        t.returned(messageId: "lost")
        let out = t.ack(tag: 2, multiple: true)
        #expect(out.first { $0.0 == 1 }?.1 == .confirmed)
        #expect(out.first { $0.0 == 2 }?.1 == .unroutable)
        // The return is used up: the same id published again and routed is confirmed.
        _ = t.register(3, messageId: "lost")
        #expect(t.ack(tag: 3, multiple: false).first?.1 == .confirmed)
    }

    @Test func expiredPublishIsReportedOnceAndItsLateAckSwallowed() {
        var t = Tracker()
        let start = ContinuousClock.now
        _ = t.register(1, messageId: nil, deadline: start + .milliseconds(10))
        _ = t.register(2, messageId: nil, deadline: start + .seconds(10))
        #expect(t.expire(now: start).isEmpty)
        let expired = t.expire(now: start + .milliseconds(20))
        #expect(expired.map(\.0) == [1])
        #expect(expired.map(\.1) == [.timedOut])
        #expect(t.expire(now: start + .milliseconds(30)).isEmpty)
        #expect(t.earliestDeadline == start + .seconds(10))
        let late = t.ack(tag: 2, multiple: true)
        #expect(late.map(\.0) == [2])
        #expect(t.outstanding == 0)
    }

    @Test func earliestDeadlineIsThatOfTheEarliestPublishStillAwaited() {
        var t = Tracker()
        let start = ContinuousClock.now
        // Deadlines out of tag order, as with callers passing different timeouts.
        _ = t.register(1, messageId: nil, deadline: start + .seconds(5))
        _ = t.register(2, messageId: nil, deadline: start + .seconds(1))
        _ = t.register(3, messageId: nil)
        _ = t.register(4, messageId: nil, deadline: start + .seconds(3))
        _ = t.register(5, messageId: nil, deadline: start + .seconds(2))
        #expect(t.earliestDeadline == start + .seconds(1))
        _ = t.ack(tag: 2, multiple: false)
        #expect(t.earliestDeadline == start + .seconds(2))
        _ = t.nack(tag: 5, multiple: false)
        #expect(t.earliestDeadline == start + .seconds(3))
        #expect(t.expire(now: start + .seconds(4)).map(\.0) == [4])
        #expect(t.earliestDeadline == start + .seconds(5))
        _ = t.ack(tag: 4, multiple: true)
        #expect(t.earliestDeadline == nil)
        #expect(t.expire(now: start + .seconds(10)).isEmpty)
    }

    @Test func failAllLosesEveryWaitingPublishInOrderAndRestartsTags() {
        var t = Tracker()
        for i in 1...3 { _ = t.register(i, messageId: nil) }
        let lost = t.failAll()
        #expect(lost.map(\.0) == [1, 2, 3])
        #expect(lost.allSatisfy { $0.1 == .lost })
        #expect(t.register(9, messageId: nil) == 1)
    }

    @Test func outOfOrderAcksAcrossQueuesResolveEachTagExactlyOnce() {
        var t = Tracker()
        for i in 1...100 { _ = t.register(i, messageId: nil) }
        var seen: [Int] = []
        for tag in stride(from: 100, through: 51, by: -1) { seen += t.ack(tag: UInt64(tag), multiple: false).map(\.0) }
        seen += t.ack(tag: 100, multiple: true).map(\.0)
        seen += t.ack(tag: 100, multiple: true).map(\.0)
        #expect(seen.sorted() == Array(1...100))
        #expect(t.outstanding == 0)
    }
}
