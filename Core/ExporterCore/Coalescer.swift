import Contracts

/// Collapses a shop's backlog of availability messages to one pending write per SKU, newest version wins.
///
/// Every delivery that reaches the coalescer is accounted for: it either waits in the pending write of its SKU
/// (and is acknowledged when that write, or a newer one, is done), or it is older than what the shop already has
/// and can be acknowledged at once. `Token` is whatever the caller acknowledges with.
package struct Coalescer<Token> {
    package init() {}

    /// One SKU's pending write and the deliveries it settles.
    package struct Pending {
        /// The newest message seen for the SKU.
        package var message: AvailabilityMessage
        /// Deliveries settled once this write is done.
        package var tokens: [Token]
        /// A resync asked for it: the shop's actual level is read before writing (it may have been restored).
        package var resync = false
        /// Written again although the shop has its version (``rewrite(_:verify:)``).
        package var again = false
        /// Read the shop's levels before planning, even where the ledger holds a belief: a read-back once the SKU is
        /// quiet (``ShopWriter``), which writes only where the shop turns out to differ.
        package var verify = false
        /// A reconciliation round asked for it: read the shop like a read-back, keeping the ledger's belief (unlike an
        /// operator's resync, which forgets it).
        package var reconcile = false

        /// An operator's resync: the shop may have been restored, so the writer forgets what it believes the shop
        /// holds and reads it cold.
        package var forgetsBelief: Bool { resync && !reconcile }

        /// Takes on the flags of `other`, which joins this write: an operator's resync forgets the belief whatever
        /// joined it; a reconciliation keeps it unless such a resync is part of the write.
        package mutating func joinFlags(of other: Pending) {
            let forgets = forgetsBelief || other.forgetsBelief
            resync = resync || other.resync
            reconcile = resync && !forgets
            again = again || other.again
            verify = verify || other.verify
        }

        /// Memberwise (explicit: the type is used outside its module).
        package init(
            message: AvailabilityMessage, tokens: [Token], resync: Bool = false, again: Bool = false, verify: Bool = false,
            reconcile: Bool = false
        ) {
            self.message = message
            self.tokens = tokens
            self.resync = resync
            self.again = again
            self.verify = verify
            self.reconcile = reconcile
        }
    }

    /// What ``take(limit:)`` hands out.
    package struct Taken {
        /// Pending writes, oldest first.
        package var write: [Pending] = []
        /// Deliveries that became obsolete while they waited: a newer version of their SKU was written meanwhile
        /// (its write was in flight when they arrived). Acknowledge them; never write them, or the shop would move
        /// back to an older version.
        package var obsolete: [Pending] = []

        /// Memberwise (explicit: the type is used outside its module).
        package init(write: [Pending] = [], obsolete: [Pending] = []) {
            self.write = write
            self.obsolete = obsolete
        }
    }

    /// What became of an added message.
    package enum Outcome: Equatable {
        /// It is the newest for its SKU and waits to be written.
        case queued
        /// A newer version already waits; it is folded into that write.
        case coalesced
        /// The shop already has this version or a newer one: acknowledge it now.
        case obsolete
    }

    private var pending: [String: Pending] = [:]
    private var order: [String] = []
    private var written: [String: Int64] = [:]

    /// SKUs waiting to be written.
    package var count: Int { pending.count }

    /// Deliveries held (waiting for a write).
    package var heldDeliveries: Int { pending.values.reduce(0) { $0 + $1.tokens.count } }

    /// The newest version written to the shop for `sku`, if any.
    package func writtenVersion(_ sku: String) -> Int64? { written[sku] }

    /// Adds a delivered message. A `resync` message is written even when its version is the one written last
    /// (never when a newer one was written).
    /// A `reconcile` message (a reconciliation round's resync) is read like a read-back.
    package mutating func add(_ message: AvailabilityMessage, token: Token, resync: Bool = false, reconcile: Bool = false)
        -> Outcome
    {
        if isObsolete(message, resync: resync, again: false) { return .obsolete }
        if var existing = pending[message.sku] {
            existing.tokens.append(token)
            if message.version > existing.message.version { existing.message = message }
            existing.joinFlags(of: Pending(message: message, tokens: [], resync: resync, verify: reconcile, reconcile: reconcile))
            pending[message.sku] = existing
            return .coalesced
        }
        pending[message.sku] = Pending(message: message, tokens: [token], resync: resync, verify: reconcile, reconcile: reconcile)
        order.append(message.sku)
        return .queued
    }

    /// Queues `message` to be written again although the shop has its version (a SKU gained an inventory item,
    /// which has never been written; or, with `verify`, a read-back): nothing to acknowledge. Does nothing when a
    /// write of the SKU waits already, unless it waits with an older version than `message`: that one would only be
    /// acknowledged as obsolete, and the rewrite asked for would be lost with it (a late older version whose sale
    /// explained held-back loss left the shop a unit below the truth), so the rewrite takes its place and settles
    /// its deliveries.
    package mutating func rewrite(_ message: AvailabilityMessage, verify: Bool = false) {
        if var existing = pending[message.sku] {
            guard existing.message.version < message.version else { return }
            existing.message = message
            existing.again = true
            existing.verify = existing.verify || verify
            pending[message.sku] = existing
            return
        }
        pending[message.sku] = Pending(message: message, tokens: [], again: true, verify: verify)
        order.append(message.sku)
    }

    /// Takes up to `limit` pending SKUs, oldest first, checked again against what was written since they arrived.
    package mutating func take(limit: Int) -> Taken {
        let skus = order.prefix(limit)
        order.removeFirst(skus.count)
        var taken = Taken()
        for sku in skus {
            guard let item = pending.removeValue(forKey: sku) else { continue }
            if isObsolete(item.message, resync: item.resync, again: item.again) {
                taken.obsolete.append(item)
            } else {
                taken.write.append(item)
            }
        }
        return taken
    }

    /// Whether the shop has `message`'s version or a newer one already. A resync or a rewrite writes the version
    /// written last once more, never an older one.
    private func isObsolete(_ message: AvailabilityMessage, resync: Bool, again: Bool) -> Bool {
        guard let done = written[message.sku] else { return false }
        return message.version < done || (message.version == done && !resync && !again)
    }

    /// Takes the pending write of `sku` if it carries `version` or a newer one (it arrived while an older version of
    /// the SKU was being written): the writer folds it into that write, so that the write carries the newest
    /// target. Its place in the order is left behind; ``take(limit:)`` skips it.
    package mutating func takeNewer(sku: String, atLeast version: Int64) -> Pending? {
        guard let item = pending[sku], item.message.version >= version else { return nil }
        pending[sku] = nil
        return item
    }

    /// Puts a batch back (its write did not happen), ahead of newer work, merging with anything that arrived since.
    package mutating func putBack(_ batch: [Pending]) {
        var front: [String] = []
        for item in batch {
            let sku = item.message.sku
            if var newer = pending[sku] {
                newer.tokens = item.tokens + newer.tokens
                if item.message.version > newer.message.version { newer.message = item.message }
                newer.joinFlags(of: item)
                pending[sku] = newer
                order.removeAll { $0 == sku }
            } else {
                pending[sku] = item
            }
            front.append(sku)
        }
        order = front + order
    }

    /// Records that `version` of `sku` is now in the shop.
    package mutating func markWritten(sku: String, version: Int64) {
        written[sku] = max(written[sku] ?? .min, version)
    }
}
