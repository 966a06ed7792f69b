import StockwireTestSupport
import Testing

@testable import AMQP

/// The acks of a connection merged into few frames (issue #19), checked against a model of the broker's side: a
/// `basic.ack` of a tag that is not outstanding closes the channel, and one with `multiple` settles every outstanding
/// tag up to its own, so it must never reach a delivery its owner did not ack.
@Suite struct AcknowledgementCoalescerTests {
    typealias Frame = AcknowledgementCoalescer.Frame

    /// The broker's view of one channel's deliveries.
    struct Broker {
        var outstanding: Set<UInt64>
        /// Tags the owners asked to ack (or nack) so far.
        var released: Set<UInt64> = []
        var failures: [String] = []

        init(delivered: Int) { outstanding = Set(1...UInt64(delivered)) }

        mutating func apply(_ frames: [Frame]) {
            for frame in frames {
                if frame.multiple {
                    let covered = outstanding.filter { $0 <= frame.tag }
                    let unasked = covered.subtracting(released)
                    if !unasked.isEmpty { failures.append("ack \(frame.tag) multiple settles unasked \(unasked.sorted())") }
                    outstanding.subtract(covered)
                } else if outstanding.remove(frame.tag) == nil {
                    failures.append("ack \(frame.tag): not outstanding (the broker closes the channel)")
                }
            }
        }
    }

    @Test func acksOfABatchInAnyOrderBecomeOneFrame() {
        var c = AcknowledgementCoalescer()
        for tag in [3, 1, 5, 2, 4] as [UInt64] { #expect(c.ack(channel: 3, tag: tag, multiple: false).isEmpty) }
        #expect(c.flush() == [Frame(channel: 3, tag: 5, multiple: true)])
        // The next run continues where that one ended; a lone tag goes as a plain ack.
        _ = c.ack(channel: 3, tag: 6, multiple: false)
        #expect(c.flush() == [Frame(channel: 3, tag: 6, multiple: false)])
        #expect(c.flush().isEmpty)
    }

    @Test func aTagNotSettledEndsTheRunAndTheRestGoOneByOne() {
        var c = AcknowledgementCoalescer()
        for tag in [1, 2, 4, 5] as [UInt64] { _ = c.ack(channel: 3, tag: tag, multiple: false) }
        #expect(
            c.flush() == [
                Frame(channel: 3, tag: 2, multiple: true), Frame(channel: 3, tag: 4, multiple: false),
                Frame(channel: 3, tag: 5, multiple: false),
            ])
        // Once 3 is acked, the run goes on past what was acked one by one.
        _ = c.ack(channel: 3, tag: 3, multiple: false)
        _ = c.ack(channel: 3, tag: 6, multiple: false)
        _ = c.ack(channel: 3, tag: 7, multiple: false)
        #expect(c.flush() == [Frame(channel: 3, tag: 7, multiple: true)])
    }

    @Test func aNackedTagJoinsTheRunButIsNotAckedAndAnAskedMultipleGoesAsAsked() {
        var c = AcknowledgementCoalescer()
        _ = c.ack(channel: 3, tag: 1, multiple: false)
        #expect(c.flush() == [Frame(channel: 3, tag: 1, multiple: false)])
        c.settledOtherwise(channel: 3, tag: 2, multiple: false)
        _ = c.ack(channel: 3, tag: 4, multiple: false)
        _ = c.ack(channel: 3, tag: 3, multiple: false)
        #expect(c.flush() == [Frame(channel: 3, tag: 4, multiple: true)])
        // An owner's own multiple ack flushes what was gathered first, then goes as one frame.
        _ = c.ack(channel: 3, tag: 9, multiple: false)
        #expect(
            c.ack(channel: 3, tag: 8, multiple: true) == [
                Frame(channel: 3, tag: 9, multiple: false), Frame(channel: 3, tag: 8, multiple: true),
            ])
        // A tag acked twice is not sent twice (the broker would close the channel).
        _ = c.ack(channel: 3, tag: 7, multiple: false)
        _ = c.ack(channel: 3, tag: 10, multiple: false)
        #expect(c.flush() == [Frame(channel: 3, tag: 10, multiple: false)])
    }

    @Test func channelsAreSeparateAndAResetChannelStartsAtOne() {
        var c = AcknowledgementCoalescer()
        for tag in [1, 2] as [UInt64] {
            _ = c.ack(channel: 3, tag: tag, multiple: false)
            _ = c.ack(channel: 4, tag: tag + 1, multiple: false)
        }
        #expect(
            c.flush() == [
                Frame(channel: 3, tag: 2, multiple: true), Frame(channel: 4, tag: 2, multiple: false),
                Frame(channel: 4, tag: 3, multiple: false),
            ])
        c.reset(channel: 3)
        _ = c.ack(channel: 3, tag: 1, multiple: false)
        _ = c.ack(channel: 3, tag: 2, multiple: false)
        #expect(c.flush() == [Frame(channel: 3, tag: 2, multiple: true)])
        c.resetAll()
        _ = c.ack(channel: 4, tag: 1, multiple: false)
        #expect(c.flush() == [Frame(channel: 4, tag: 1, multiple: false)])
    }

    /// Random owners: deliveries acked in any order and batches of any size, some nacked, some asked with `multiple`,
    /// some never acked (a delivery dropped for a cancelled consumer). Every frame must be one the broker accepts, no
    /// `multiple` may reach a delivery not asked for, every ack asked for is settled at its flush, and the deliveries
    /// never acked stay outstanding.
    @Test(arguments: 0..<200) func randomOwnersNeverAckWhatWasNotAskedAndNeverLate(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        let delivered = Int.random(in: 1...60, using: &random)
        var broker = Broker(delivered: delivered)
        var c = AcknowledgementCoalescer()
        var order = Array(1...UInt64(delivered))
        // Mostly in order with local shuffles, as a writer settles its oldest SKUs first; sometimes fully shuffled.
        if Bool.random(using: &random) {
            order.shuffle(using: &random)
        } else {
            for i in order.indices where Int.random(in: 0..<4, using: &random) == 0 {
                order.swapAt(i, min(order.count - 1, i + Int.random(in: 0...3, using: &random)))
            }
        }
        let dropped = Set(order.filter { _ in Int.random(in: 0..<15, using: &random) == 0 })
        var askedNotFlushed: Set<UInt64> = []
        var frames = 0
        for tag in order where !dropped.contains(tag) {
            switch Int.random(in: 0..<20, using: &random) {
            case 0:
                // A nack: what was gathered goes first, then the nack (the broker requeues the delivery).
                let out = c.flush()
                broker.apply(out)
                frames += out.count
                askedNotFlushed.removeAll()
                broker.released.insert(tag)
                broker.outstanding.remove(tag)
                c.settledOtherwise(channel: 3, tag: tag, multiple: false)
            case 1 where (1...tag).allSatisfy { broker.released.contains($0) || $0 == tag || !broker.outstanding.contains($0) }:
                // An owner's own multiple ack, only when it is done with every earlier delivery.
                broker.released.insert(tag)
                let out = c.ack(channel: 3, tag: tag, multiple: true)
                broker.apply(out)
                frames += out.count
                askedNotFlushed.removeAll()
            default:
                broker.released.insert(tag)
                askedNotFlushed.insert(tag)
                #expect(c.ack(channel: 3, tag: tag, multiple: false).isEmpty)
            }
            if Int.random(in: 0..<5, using: &random) == 0 {
                let out = c.flush()
                broker.apply(out)
                frames += out.count
                let late = askedNotFlushed.intersection(broker.outstanding)
                #expect(late.isEmpty, "seed \(seed): acked late \(late.sorted())")
                askedNotFlushed.removeAll()
            }
        }
        let out = c.flush()
        broker.apply(out)
        frames += out.count
        #expect(broker.failures.isEmpty, "seed \(seed): \(broker.failures)")
        #expect(broker.outstanding == dropped, "seed \(seed): left \(broker.outstanding.sorted()), dropped \(dropped.sorted())")
        #expect(frames <= delivered - dropped.count, "seed \(seed): more frames than acks")
    }

    /// The case it is for: a writer settling 200 deliveries in the order they came sends one frame, not 200.
    @Test func twoHundredSettledInOrderAreOneFrame() {
        var c = AcknowledgementCoalescer()
        for tag in 1...200 as ClosedRange<UInt64> { _ = c.ack(channel: 5, tag: tag, multiple: false) }
        #expect(c.flush() == [Frame(channel: 5, tag: 200, multiple: true)])
    }
}
