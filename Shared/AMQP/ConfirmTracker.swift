/// The publisher-confirm bookkeeping of one channel, as a pure state machine (no I/O, no clock of its own).
///
/// Every publish on a confirm-mode channel gets the next delivery tag (1, 2, 3, …). The broker answers each tag
/// with `basic.ack` or `basic.nack`, possibly for many tags at once (`multiple`), not necessarily in order across
/// queues. A mandatory message that no queue takes is first sent back with `basic.return` (which carries no tag,
/// only the message's properties) and then acked; the tracker remembers returned message ids so that the ack
/// that follows completes the publish as unroutable rather than as confirmed.
///
/// A publish whose deadline passes is reported as timed out once and its tag stays known, so the late answer is
/// swallowed instead of being mistaken for another message's.
public struct ConfirmTracker<Token> {
    /// How one publish ended.
    public enum Outcome: Equatable, Sendable {
        /// The broker took responsibility for the message.
        case confirmed
        /// The broker refused responsibility (`basic.nack`).
        case nacked
        /// The message was mandatory and no queue took it.
        case unroutable
        /// No answer within the deadline.
        case timedOut
        /// The channel or connection went away before an answer.
        case lost
    }

    private struct Entry {
        var token: Token?
        let messageId: String?
        let deadline: ContinuousClock.Instant?
    }

    private var entries: [UInt64: Entry] = [:]
    /// Awaited entries that carry a deadline: when zero, expiry checks cost nothing.
    private var withDeadline = 0
    /// The deadlines of awaited publishes as a binary min-heap (`deadlines[0]` is the earliest), so that the I/O
    /// loop learns the next deadline without scanning every entry before each sleep. Entries answered meanwhile
    /// stay in the heap until they reach its top, where they are dropped (``pruneDeadlines()``): the top is always
    /// a publish still awaited.
    private var deadlines: [(deadline: ContinuousClock.Instant, tag: UInt64)] = []
    private var returnedIds: [String: Int] = [:]
    private var lowestUnresolved: UInt64 = 1
    /// The tag the next publish will get.
    public private(set) var nextTag: UInt64 = 1

    /// Creates an empty tracker for a channel that has just entered confirm mode.
    public init() {}

    /// Publishes whose answer is still awaited by a caller.
    public var waiting: Int { entries.values.reduce(0) { $0 + ($1.token == nil ? 0 : 1) } }

    /// Tags the broker still owes an answer for (including timed-out ones).
    public var outstanding: Int { entries.count }

    /// Records a publish and returns its delivery tag.
    public mutating func register(
        _ token: Token, messageId: String?, deadline: ContinuousClock.Instant? = nil
    ) -> UInt64 {
        let tag = nextTag
        nextTag += 1
        entries[tag] = Entry(token: token, messageId: messageId, deadline: deadline)
        if let deadline {
            withDeadline += 1
            pushDeadline(deadline, tag: tag)
        }
        return tag
    }

    /// The broker returned a mandatory message (it will ack it next).
    public mutating func returned(messageId: String?) {
        guard let messageId else { return }
        returnedIds[messageId, default: 0] += 1
    }

    /// Handles `basic.ack`.
    public mutating func ack(tag: UInt64, multiple: Bool) -> [(Token, Outcome)] {
        defer { pruneDeadlines() }
        return resolve(tag: tag, multiple: multiple, as: .confirmed)
    }

    /// Handles `basic.nack`.
    public mutating func nack(tag: UInt64, multiple: Bool) -> [(Token, Outcome)] {
        defer { pruneDeadlines() }
        return resolve(tag: tag, multiple: multiple, as: .nacked)
    }

    /// Reports every publish whose deadline is at or before `now` as timed out; their tags stay known.
    public mutating func expire(now: ContinuousClock.Instant) -> [(Token, Outcome)] {
        var out: [(Token, Outcome)] = []
        guard withDeadline > 0 else { return out }
        // The heap's top is awaited; everything due comes off the top in deadline order.
        while let top = deadlines.first, top.deadline <= now {
            popDeadline()
            guard let token = entries[top.tag]?.token else { continue }
            entries[top.tag]?.token = nil
            withDeadline -= 1
            out.append((token, .timedOut))
        }
        pruneDeadlines()
        return out
    }

    /// The earliest deadline of a publish still awaited, to know how long the I/O loop may sleep.
    public var earliestDeadline: ContinuousClock.Instant? {
        guard withDeadline > 0 else { return nil }
        return deadlines.first?.deadline
    }

    /// The channel or connection is gone: every awaited publish is lost, and tags start again at 1.
    public mutating func failAll() -> [(Token, Outcome)] {
        let out = entries.sorted { $0.key < $1.key }.compactMap { _, e in e.token.map { ($0, Outcome.lost) } }
        self = ConfirmTracker()
        return out
    }

    private mutating func resolve(tag: UInt64, multiple: Bool, as outcome: Outcome) -> [(Token, Outcome)] {
        var out: [(Token, Outcome)] = []
        if multiple {
            guard tag >= lowestUnresolved else { return out }
            var t = lowestUnresolved
            while t <= tag {
                if let entry = entries.removeValue(forKey: t) { finish(entry, outcome, into: &out) }
                t += 1
            }
            lowestUnresolved = tag + 1
        } else if let entry = entries.removeValue(forKey: tag) {
            finish(entry, outcome, into: &out)
            if tag == lowestUnresolved { advanceLowest() }
        }
        return out
    }

    // MARK: - Deadline heap

    /// Drops answered publishes from the top of the deadline heap, so that its top is awaited (or it is empty).
    private mutating func pruneDeadlines() {
        while let top = deadlines.first, entries[top.tag]?.token == nil { popDeadline() }
    }

    private mutating func pushDeadline(_ deadline: ContinuousClock.Instant, tag: UInt64) {
        deadlines.append((deadline, tag))
        var child = deadlines.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard deadlines[child].deadline < deadlines[parent].deadline else { break }
            deadlines.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func popDeadline() {
        let last = deadlines.removeLast()
        guard !deadlines.isEmpty else { return }
        deadlines[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < deadlines.count, deadlines[left].deadline < deadlines[smallest].deadline { smallest = left }
            if right < deadlines.count, deadlines[right].deadline < deadlines[smallest].deadline { smallest = right }
            if smallest == parent { return }
            deadlines.swapAt(parent, smallest)
            parent = smallest
        }
    }

    private mutating func advanceLowest() {
        while lowestUnresolved < nextTag && entries[lowestUnresolved] == nil { lowestUnresolved += 1 }
    }

    private mutating func finish(_ entry: Entry, _ outcome: Outcome, into out: inout [(Token, Outcome)]) {
        var result = outcome
        if outcome == .confirmed, let id = entry.messageId, let count = returnedIds[id] {
            result = .unroutable
            returnedIds[id] = count > 1 ? count - 1 : nil
        }
        if let token = entry.token {
            if entry.deadline != nil { withDeadline -= 1 }
            out.append((token, result))
        }
    }
}
