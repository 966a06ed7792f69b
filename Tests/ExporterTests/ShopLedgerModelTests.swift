import Contracts
@testable import ExporterCore
import ShopifySimulator
import Testing

@testable import exporter

/// A model of one item in one shop, played with random interleavings: Shopify's level (checkouts lower it at once,
/// cancellations restock it, compare-and-set writes), the order webhooks reaching the truth late, twice and out of
/// order, the truth's announcements reaching the exporter, the exporter's reads and writes evaluated by Shopify and
/// answered at arbitrary points in between, and the exporter killed at any point — its unacknowledged messages
/// delivered again, its write in flight still landing at Shopify after the new process has read the shop.
///
/// The exporter side calls ``ShopLedger`` in the order ``ShopWriter`` does: an announcement is taken in once per
/// version (only once the item is known, as after a restart), each round plans with the newest version, an unknown
/// belief or a read-back is read first, a stale answer is read and retried, a settled write is read back once the
/// SKU is quiet.
///
/// What it asserts, per run:
/// - **convergence**: once every webhook, announcement and request is through and the SKU was read back, the shop
///   holds exactly the truth (a unit held back for good is what `stockwire-scenario faults --fault kill-exporter`
///   showed at 4 shops × 500 SKUs);
/// - **no unit given back** by a write outside a cold start: a write never sets the shop above the truth of its
///   version less what the shop sold (net) that the version does not know of.
@Suite struct ShopLedgerModelTests {
    /// Two timing profiles. `evaluateOnArrival`: Shopify evaluates each request when it arrives (its answer still
    /// comes at any later point), the shop as it is, a few milliseconds per call; then, besides converging, no
    /// write gives a unit back outside a cold start. Otherwise Shopify evaluates requests at any later point too,
    /// so reads and writes span many sales and the exporter falls versions behind: it still converges (a belief
    /// the ledger had to guess can then mask a sale until its announcement or the read-back, a unit shown too many
    /// for that long: the limit ``ShopLedger`` documents).
    @Test(arguments: [true, false], 0..<400)
    func everyInterleavingConvergesToTheTruth(evaluateOnArrival: Bool, seed: Int) {
        var world = LedgerWorld(
            seed: UInt64(seed), kills: seed % 2 == 0 ? 0 : 1 + seed % 3, evaluateOnArrival: evaluateOnArrival)
        world.run(steps: 400)
        world.quiesce()
        #expect(
            world.shopLevel == world.truthAvailable,
            "seed \(seed): shop \(world.shopLevel), truth \(world.truthAvailable)\n\(world.trace.suffix(80).joined(separator: "\n"))")
        #expect(world.unseenOvercount == nil, "seed \(seed): \(world.unseenOvercount ?? "")\n\(world.trace.joined(separator: "\n"))")
        if evaluateOnArrival {
            #expect(
                world.givenBack.isEmpty,
                "seed \(seed): units given back:\n\(world.givenBack.joined(separator: "\n"))\n\(world.trace.suffix(80).joined(separator: "\n"))")
        }
    }

    /// The interleaving of the issue: a read answered after a checkout that happened just after Shopify read the
    /// level and was announced before the answer. The belief must not count that sale twice.
    @Test func aSaleAnnouncedDuringAReadIsNotCountedTwice() {
        let now = ContinuousClock.now
        var l = ShopLedger()
        l.wrote(item: "i", quantity: 110)
        l.beginRead(items: ["i"])
        // Shopify read 110; a checkout in the shop follows (109) and is announced before the answer comes.
        l.ownSale(item: "i", quantity: 1)
        let first = l.readAnswered(item: "i", actual: 110, now: now, final: false)
        #expect(!first, "ambiguous: read again")
        l.beginRead(items: ["i"])
        let second = l.readAnswered(item: "i", actual: 109, now: now, final: false)
        #expect(second)
        #expect(l.item("i").believed == 109)
        #expect(l.item("i").unseen == 0)
        #expect(l.plan(item: "i", target: 109, now: now) == (109, 109))
    }

    /// When the item sells on every read, the last answer is taken with the belief erring low: a stale answer
    /// follows, never a unit held back.
    @Test func anAmbiguousReadTakenAtLastHoldsNothingBack() {
        let now = ContinuousClock.now
        var l = ShopLedger()
        l.wrote(item: "i", quantity: 50)
        l.beginRead(items: ["i"])
        l.ownSale(item: "i", quantity: 2)  // was it before Shopify read the level, or after?
        let taken = l.readAnswered(item: "i", actual: 48, now: now, final: true)
        #expect(taken)
        #expect(l.item("i").unseen == 0)
        #expect(l.item("i").believed == 46)
        #expect(!l.holds(item: "i", quantity: 46), "a guessed belief is never a reason to skip a write")
        // It was before: the shop holds 48, the write of 48 from 46 is stale, the read puts the belief right.
        l.observed(item: "i", actual: 48, now: now)
        #expect(l.item("i").unseen == 0)
        #expect(l.plan(item: "i", target: 48, now: now) == (48, 48))
    }
}

// MARK: - The model

struct LedgerWorld {
    /// An order of the shop: placed for `ordered` units, of which `open` are still held (an edit down, a refund
    /// of unfulfilled units or a cancellation gives units back, and Shopify restocks them in the shop). Each change
    /// is a new snapshot (`seq`); the truth keeps the newest it received.
    struct Order {
        var ordered: Int64
        var open: Int64
        /// The step it was placed at.
        var placed: Int
        var seq = 0
        /// The newest snapshot the truth took: its sequence and open units; nil before the first.
        var truth: (seq: Int, open: Int64)?
        var truthOpen: Int64 { truth?.open ?? 0 }
    }
    struct Announcement {
        var version: Int64
        var target: Int64
        var sold: Int64
        var restocked: Int64
        /// The order whose snapshot caused it, if any.
        var order: Int? = nil
        /// The step it was published at.
        var published = 0
    }
    enum Kind {
        case read
        case write(quantity: Int64, changeFrom: Int64?)
    }
    struct Request {
        var kind: Kind
        var generation: Int
        /// The version whose target a write carries.
        var version: Int64
        /// Whether the writing process planned it within its cold window (150 steps) of its first read or before
        /// every change that window may have hidden was announced (``maxDelay`` twice more), or after it left a
        /// restock out of its belief: ``ShopLedger`` step 6.
        var cold: Bool
        /// Shopify's answer once it evaluated the request: the level read, or whether the write applied.
        var level: Int64? = nil
        var applied = false
    }

    var rng: SplitMix64
    var killsLeft: Int
    var trace: [String] = []
    var givenBack: [String] = []
    let start = ContinuousClock.now
    var tick = 0
    var now: ContinuousClock.Instant { start + .milliseconds(tick * 10) }

    // Shopify.
    var shopLevel: Int64 = 40
    var orders: [Order] = []
    var requests: [Request] = []
    // The truth, and what reaches it and the exporter.
    var base: Int64 = 40
    var version: Int64 = 1
    var inTransit: [(order: Int, seq: Int, open: Int64, sent: Int)] = []
    var announcements: [Announcement] = [Announcement(version: 1, target: 40, sold: 0, restocked: 0)]
    /// Per version: on hand less reserved (the target before it is clamped at 0), and the open units of every order
    /// as it knows them (nil: not seen yet).
    var published: [Int64: (target: Int64, open: [Int64?])] = [1: (40, [])]
    var truthAvailable: Int64 { max(0, base - orders.reduce(0) { $0 + $1.truthOpen }) }
    // The exporter (one process at a time; `generation` counts them).
    var generation = 0
    /// The exporter's ledger. Its cold window (1.5 s, 150 steps) covers the longest a change takes here to reach
    /// the exporter (``maxDelay`` for the webhook, as much again in the exporter's queue), as the default covers
    /// Shopify's usual delivery.
    var ledger = LedgerWorld.newLedger()
    static func newLedger() -> ShopLedger { ShopLedger(coldWindow: .milliseconds(1500)) }
    /// Steps a webhook may wait at most before it reaches the truth, and an announcement before the exporter.
    let maxDelay = 60
    var itemKnown = false
    var taken: AnnouncedVersions?
    var unacked: [Int64] = []
    var pending: Announcement?
    var written: Int64?
    var lastWritten: Announcement?
    var verifyDue = false
    var busy: Announcement?
    var busyIsReadBack = false
    var readBack = false
    var readAttempt = 0
    var staleRounds = 0

    /// Whether Shopify evaluates a request the moment it is sent (else at any later step).
    let evaluateOnArrival: Bool

    init(seed: UInt64, kills: Int, evaluateOnArrival: Bool) {
        rng = SplitMix64(seed: seed &* 0x2545_F491_4F6C_DD1D &+ 1)
        killsLeft = kills
        self.evaluateOnArrival = evaluateOnArrival
    }

    mutating func send(_ request: Request) {
        requests.append(request)
        if evaluateOnArrival { evaluate(requests.count - 1) }
    }

    mutating func note(_ s: String) { trace.append("[\(tick)] \(s) — shop \(shopLevel), truth \(truthAvailable)") }

    // MARK: The world's moves

    mutating func run(steps: Int) {
        for _ in 0..<steps {
            tick += 1
            if inTransit.contains(where: { tick - $0.sent > maxDelay }) {
                deliverWebhook()
                continue
            }
            if let first = announcements.first, tick - first.published > maxDelay {
                deliverAnnouncement()
                continue
            }
            switch rng.below(100) {
            case 0..<14: checkout()
            case 14..<20: giveBack()
            case 20..<26: otherChange()
            case 26..<44: deliverWebhook()
            case 44..<60: deliverAnnouncement()
            case 60..<72: evaluateRequest()
            case 72..<86: answerRequest()
            case 86..<99: exporterStep()
            default: if killsLeft > 0 { kill() }
            }
        }
    }

    /// Everything on its way arrives and the exporter finishes; then the SKU is read back twice, as the verify
    /// loop reads a quiet SKU.
    mutating func quiesce() {
        func drain(_ w: inout LedgerWorld) {
            for _ in 0..<20_000 {
                w.tick += 1
                if !w.inTransit.isEmpty {
                    w.deliverWebhook()
                } else if !w.announcements.isEmpty {
                    w.deliverAnnouncement()
                } else if w.requests.contains(where: { $0.level == nil }) {
                    w.evaluateRequest()
                } else if !w.requests.isEmpty {
                    w.answerRequest()
                } else if w.busy != nil || w.pending != nil || w.verifyDue {
                    w.exporterStep()
                } else {
                    return
                }
            }
        }
        drain(&self)
        for _ in 0..<2 {
            verifyDue = lastWritten != nil
            drain(&self)
        }
    }

    mutating func checkout() {
        let q = Int64(1 + rng.below(2))
        guard shopLevel >= q else { return }  // a buyer buys only what the shop shows
        shopLevel -= q
        orders.append(Order(ordered: q, open: q, placed: tick))
        inTransit.append((orders.count - 1, 0, q, tick))
        note("checkout of \(q) (order \(orders.count - 1))")
    }

    /// An order is cancelled, or edited down by a unit: Shopify restocks what it gives back in the shop.
    mutating func giveBack() {
        let open = orders.indices.filter { orders[$0].open > 0 }
        guard !open.isEmpty else { return }
        let o = open[rng.below(open.count)]
        let units = rng.below(100) < 50 ? orders[o].open : 1
        orders[o].open -= units
        orders[o].seq += 1
        shopLevel += units
        inTransit.append((o, orders[o].seq, orders[o].open, tick))
        note("order \(o) gives back \(units) (restocked)")
    }

    mutating func otherChange() {
        let d = Int64(rng.below(5)) - 2
        guard d != 0, base + d > 20 else { return }
        base += d
        announce(sold: 0, restocked: 0)
        note("another shop or the warehouse: \(d)")
    }

    mutating func announce(sold: Int64, restocked: Int64, order: Int? = nil) {
        version += 1
        published[version] = (base - orders.reduce(0) { $0 + $1.truthOpen }, orders.map { $0.truth?.open })
        announcements.append(
            Announcement(
                version: version, target: truthAvailable, sold: sold, restocked: restocked, order: order, published: tick))
    }

    /// A webhook reaches the truth: a snapshot, applied only when newer; one in seven is delivered again later.
    mutating func deliverWebhook() {
        guard !inTransit.isEmpty else { return }
        let i = inTransit.firstIndex { tick - $0.sent > maxDelay } ?? rng.below(inTransit.count)
        let (o, seq, open, _) = inTransit[i]
        if rng.below(100) >= 15 { inTransit.remove(at: i) }
        if let known = orders[o].truth, known.seq >= seq { return }  // an older snapshot: ignored
        // Gross: an order seen first sold all it ordered, and gave back what it no longer holds.
        let before = orders[o].truth?.open ?? orders[o].ordered
        let sold = orders[o].truth == nil ? orders[o].ordered : 0
        orders[o].truth = (seq, open)
        announce(sold: sold, restocked: before - open, order: o)
        note("truth takes order \(o) snapshot \(seq) (open \(open)), v\(version)")
    }

    mutating func deliverAnnouncement() {
        guard !announcements.isEmpty else { return }
        receive(announcements.removeFirst())
    }

    mutating func evaluateRequest() {
        let open = requests.indices.filter { requests[$0].level == nil }
        guard !open.isEmpty else { return }
        evaluate(open[rng.below(open.count)])
    }

    mutating func evaluate(_ r: Int) {
        switch requests[r].kind {
        case .read:
            requests[r].level = shopLevel
            if requests[r].generation == generation, coldRead == nil { coldRead = tick }
        case .write(let quantity, let changeFrom):
            let applied = changeFrom == shopLevel
            if applied {
                checkGiveBack(quantity: quantity, request: requests[r])
                shopLevel = quantity
            }
            requests[r].applied = applied
            requests[r].level = shopLevel
            note("Shopify \(applied ? "applies" : "refuses as stale") a write of \(quantity) from \(changeFrom.map(String.init) ?? "nil") (v\(requests[r].version), process \(requests[r].generation))")
        }
    }

    /// A write may set the shop at most to its version's truth less what the shop sold that the version does not
    /// know of; more gives back units the shop no longer has. Exceptions, all limits of a compare-and-set on a value
    /// that ``ShopLedger`` documents: orders placed before the process's first read, and writes of a process in
    /// its cold window or until what that window hid was announced (a cold start cannot tell changes before its
    /// read from changes after it; its belief errs low, and a sale can hide behind it until announced: step 6), and
    /// a shop that also gave units back that the version does not know of — an
    /// unseen sale and an unseen restock cancel out in the level, so nothing Shopify answers tells them apart; the
    /// announcements that follow set it right.
    mutating func checkGiveBack(quantity: Int64, request: Request) {
        guard !request.cold, let (unclamped, known) = published[request.version], let coldRead else { return }
        var unseenSold: Int64 = 0
        var unseenRestocked: Int64 = 0
        for o in orders.indices where orders[o].placed > coldRead {
            if let knownOpen = o < known.count ? known[o] : nil {
                unseenRestocked += knownOpen - orders[o].open  // open units only ever go down
            } else {  // an order the version has not seen: all it ordered sold, what it no longer holds restocked
                unseenSold += orders[o].ordered
                unseenRestocked += orders[o].ordered - orders[o].open
            }
        }
        if unseenRestocked == 0, quantity > max(0, unclamped - unseenSold) {
            givenBack.append(
                "[\(tick)] wrote \(quantity) for v\(request.version): its truth \(max(0, unclamped)), the shop's own sales it lacks \(unseenSold)")
        }
    }

    mutating func answerRequest() {
        let done = requests.indices.filter { requests[$0].level != nil }
        guard !done.isEmpty else { return }
        let r = requests.remove(at: done[rng.below(done.count)])
        guard r.generation == generation, let level = r.level else { return }  // its process is gone
        switch r.kind {
        case .read: readAnswered(level: level)
        case .write(let quantity, _): writeAnswered(quantity: quantity, applied: r.applied)
        }
    }

    mutating func kill() {
        killsLeft -= 1
        generation += 1
        // What was not acknowledged is delivered again, in order, before what had not been delivered yet.
        let again = unacked.compactMap { delivered[$0] }
        announcements = again + announcements
        ledger = LedgerWorld.newLedger()
        itemKnown = false
        taken = nil
        takenSold = []
        coldRead = nil
        leftOutRestock = false
        unacked = []
        pending = nil
        written = nil
        lastWritten = nil
        verifyDue = false
        busy = nil
        note("exporter killed with \(requests.count) request(s) at Shopify; \(again.count) message(s) come again")
    }

    /// The step at which Shopify evaluated the current process's first read.
    var coldRead: Int?
    /// Whether the current process left a restock out of its belief in its cold window (``ShopLedger`` step 6):
    /// its unseen loss may be counted short by that much from then on, until the sales are announced.
    var leftOutRestock = false
    /// Orders whose sale the exporter's ledger took in (since its process started).
    var takenSold: Set<Int> = []
    /// The first step at which the ledger counted more unseen loss than the shop has sales it has not taken in.
    var unseenOvercount: String?

    mutating func checkUnseen() {
        guard unseenOvercount == nil else { return }
        let notTaken = orders.indices.filter { !takenSold.contains($0) }.reduce(Int64(0)) { $0 + orders[$1].ordered }
        if ledger.item("i").unseen > notTaken {
            unseenOvercount = "[\(tick)] unseen \(ledger.item("i").unseen) > sales not taken in \(notTaken)"
        }
    }

    /// Every announcement the exporter received, by version: what comes again after a kill.
    var delivered: [Int64: Announcement] = [:]

    // MARK: The exporter, driving the ledger as ShopWriter does

    mutating func receive(_ a: Announcement) {
        delivered[a.version] = a
        if taken == nil { taken = AnnouncedVersions(first: a.version) }
        if taken!.insert(a.version), itemKnown, a.sold > 0 || a.restocked > 0 {
            if a.sold > 0 { ledger.ownSale(item: "i", quantity: a.sold) }
            if a.restocked > 0 { ledger.ownRestock(item: "i", quantity: a.restocked) }
            if let o = a.order { takenSold.insert(o) }
            if ledger.item("i").skippedRestock > 0 { leftOutRestock = true }
            note("exporter takes in v\(a.version): sold \(a.sold), restocked \(a.restocked); \(ledger.item("i"))")
            checkUnseen()
        }
        if let w = written, a.version <= w { return }  // obsolete: acknowledged at once
        unacked.append(a.version)
        if pending == nil || a.version > pending!.version { pending = a }
    }

    mutating func exporterStep() {
        guard !requests.contains(where: { $0.generation == generation }), busy == nil else { return }
        if let p = pending {
            busy = p
            pending = nil
            busyIsReadBack = false
        } else if verifyDue, let last = lastWritten {
            busy = last
            busyIsReadBack = true
        } else {
            return
        }
        verifyDue = false
        readBack = false
        staleRounds = 0
        itemKnown = true  // resolved when its first write is planned
        round()
    }

    /// One round of ``ShopWriter``'s compare-and-set loop for the entry in hand.
    mutating func round() {
        guard var entry = busy else { return }
        if let p = pending, p.version >= entry.version {  // absorbNewerVersions
            entry = p
            pending = nil
            busy = entry
        }
        if (busyIsReadBack && !readBack) || ledger.item("i").believed == nil {
            readAttempt = 1
            read()
            return
        }
        let (quantity, changeFrom) = ledger.plan(item: "i", target: entry.target, now: now)
        if ledger.holds(item: "i", quantity: quantity) {
            settle(entry)
            return
        }
        let cold = leftOutRestock || coldRead.map { tick <= $0 + 150 + 2 * maxDelay } ?? true
        note("exporter plans v\(entry.version) (target \(entry.target)): \(quantity) from \(changeFrom.map(String.init) ?? "nil"); \(ledger.item("i"))")
        ledger.beginWrite(items: ["i"])
        send(Request(kind: .write(quantity: quantity, changeFrom: changeFrom), generation: generation, version: entry.version, cold: cold))
    }

    mutating func read() {
        ledger.beginRead(items: ["i"])
        send(Request(kind: .read, generation: generation, version: busy?.version ?? 0, cold: false))
    }

    mutating func readAnswered(level: Int64) {
        let final = readAttempt >= ShopWriter.ambiguousReadLimit
        let taken = ledger.readAnswered(item: "i", actual: level, now: now, final: final)
        note("exporter reads \(level)\(taken ? "" : " (ambiguous: again)"): \(ledger.item("i"))")
        checkUnseen()
        guard taken else {
            readAttempt += 1
            read()
            return
        }
        readBack = true
        round()
    }

    mutating func writeAnswered(quantity: Int64, applied: Bool) {
        guard let entry = busy else { return }
        if applied {
            ledger.wrote(item: "i", quantity: quantity)
            settle(entry)
            return
        }
        ledger.writeFailed(items: ["i"])
        staleRounds += 1
        if staleRounds > 8 {  // put back: retried later
            if pending == nil || entry.version > pending!.version { pending = entry }
            busy = nil
            return
        }
        readAttempt = 1
        read()
    }

    mutating func settle(_ entry: Announcement) {
        written = max(written ?? .min, entry.version)
        if entry.version >= lastWritten?.version ?? .min { lastWritten = entry }
        unacked.removeAll { $0 <= entry.version }
        busy = nil
        if let p = pending, p.version <= written! { pending = nil }
    }
}
