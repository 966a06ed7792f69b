/// Merges the acks a connection's owners ask for at about the same time into as few `basic.ack` frames as the protocol
/// allows, without acking anything sooner, later or other than asked.
///
/// A quorum queue turns every `basic.ack` into a command of its Raft log (one `settle`, with every message the frame
/// covers); a writer that settles 200 SKUs at once used to send 200 frames, 200 commands. Delivery tags of a channel are
/// consecutive from 1 (AMQP 0-9-1, `basic.deliver`), so when every tag up to `t` has been settled by this connection, a
/// single `basic.ack` with `multiple` set acks exactly the run that ends at `t`: the broker's "every outstanding
/// delivery up to `t`" is then only the tags just asked for.
///
/// The driver gathers the acks of one mailbox batch with ``ack(channel:tag:multiple:)``, and sends what ``flush()``
/// returns before any other command of the batch and at its end, so acks keep their order against everything else.
/// A tag that this connection never settled (a delivery dropped for a cancelled consumer, a nack's) ends a run: the acks
/// after it go one by one, as before.
struct AcknowledgementCoalescer: Sendable {
    /// One `basic.ack` frame.
    struct Frame: Equatable, Sendable {
        var channel: UInt16
        var tag: UInt64
        var multiple: Bool
    }

    /// What this connection settled on one channel (acked or nacked).
    private struct Settled: Sendable {
        /// Every tag up to this one is settled.
        var through: UInt64 = 0
        /// Settled tags above ``through``, waiting for the gap below them to close.
        var above: Set<UInt64> = []

        mutating func advance() {
            while above.remove(through + 1) != nil { through += 1 }
        }

        func contains(_ tag: UInt64) -> Bool { tag <= through || above.contains(tag) }
    }

    private var settled: [UInt16: Settled] = [:]
    /// Acks asked for and not sent yet, per channel, in the order asked.
    private var gathered: [UInt16: [UInt64]] = [:]
    private var channelsGathered: [UInt16] = []

    /// Acks not sent yet.
    var isEmpty: Bool { channelsGathered.isEmpty }

    /// A channel was opened for a new subscription (its tags start again at 1), or closed.
    mutating func reset(channel: UInt16) {
        settled[channel] = nil
        gathered[channel] = nil
        channelsGathered.removeAll { $0 == channel }
    }

    /// A new connection: every channel starts again.
    mutating func resetAll() {
        self = AcknowledgementCoalescer()
    }

    /// An owner acks `tag` on `channel` (and with `multiple`, every earlier tag). A plain ack is gathered and returns
    /// nothing; an ack with `multiple` was asked for as one frame, so it goes now, after what was gathered before it.
    mutating func ack(channel: UInt16, tag: UInt64, multiple: Bool) -> [Frame] {
        guard multiple else {
            if gathered[channel] == nil { channelsGathered.append(channel) }
            gathered[channel, default: []].append(tag)
            return []
        }
        let frames = flush()
        settleThrough(tag, channel: channel)
        return frames + [Frame(channel: channel, tag: tag, multiple: true)]
    }

    /// A nack (or reject) of `tag` (with `multiple`, of every earlier tag too) went to the broker: the tags are no longer
    /// outstanding there. The driver flushes the acks gathered before it first.
    mutating func settledOtherwise(channel: UInt16, tag: UInt64, multiple: Bool) {
        if multiple {
            settleThrough(tag, channel: channel)
        } else {
            var s = settled[channel, default: Settled()]
            if tag > s.through { s.above.insert(tag) }
            s.advance()
            settled[channel] = s
        }
    }

    /// The frames for every ack gathered: per channel, one ack with `multiple` for the run of tags that continues what
    /// the channel had settled, then one frame for each other tag. A tag already settled is not acked again (the
    /// broker would close the channel for it).
    mutating func flush() -> [Frame] {
        guard !channelsGathered.isEmpty else { return [] }
        var frames: [Frame] = []
        for channel in channelsGathered {
            var s = settled[channel, default: Settled()]
            var asked = Set<UInt64>()
            for tag in gathered[channel] ?? [] where !s.contains(tag) { asked.insert(tag) }
            // The run: tags asked for now that join every tag settled before them.
            var run: (count: Int, last: UInt64) = (0, 0)
            while true {
                if asked.remove(s.through + 1) != nil {
                    s.through += 1
                    run = (run.count + 1, s.through)
                } else if s.above.remove(s.through + 1) != nil {
                    s.through += 1
                } else {
                    break
                }
            }
            if run.count > 0 { frames.append(Frame(channel: channel, tag: run.last, multiple: run.count > 1)) }
            for tag in asked.sorted() {
                frames.append(Frame(channel: channel, tag: tag, multiple: false))
                s.above.insert(tag)
            }
            settled[channel] = s
        }
        gathered.removeAll(keepingCapacity: true)
        channelsGathered.removeAll(keepingCapacity: true)
        return frames
    }

    private mutating func settleThrough(_ tag: UInt64, channel: UInt16) {
        var s = settled[channel, default: Settled()]
        if tag > s.through {
            s.through = tag
            s.above = s.above.filter { $0 > tag }
        }
        s.advance()
        settled[channel] = s
    }
}
