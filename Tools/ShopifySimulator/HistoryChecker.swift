/// Jepsen-style checks of one run's history, as pure functions over plain values: what was sent and acknowledged
/// (the simulator's webhook log, the warehouse movements), what the system applied (the calculator's dedupe table
/// and per-SKU history), what it wrote into the shops (the Admin API write log, the exporters' write reports) and
/// what the broker kept (the event log, dead letters).
///
/// Modelled on the queue checker of RabbitMQ's Jepsen tests: every acknowledged message must come out exactly once,
/// nothing may come out that went nowhere in. The scenario runner (`stockwire-scenario faults`) gathers the values;
/// everything here is deterministic and unit-tested.
public enum HistoryChecker {
    // MARK: - Lost, unexpected, duplicated

    /// Acknowledged events (answered 2xx) the truth never applied, sorted; `inDeadLetters` are those of them that
    /// sit in a dead-letter queue (recoverable by a replay, but not applied).
    public static func lost(accepted: Set<String>, applied: Set<String>, deadLettered: Set<String>)
        -> (lost: [String], inDeadLetters: [String])
    {
        let lost = accepted.subtracting(applied).sorted()
        return (lost, lost.filter(deadLettered.contains))
    }

    /// Applied events nobody sent (no delivery attempt, movement or injected message carried the id), sorted.
    public static func unexpected(applied: Set<String>, sent: Set<String>) -> [String] {
        applied.subtracting(sent).sorted()
    }

    /// One committed version of a SKU and the message ids that caused it (the calculator's `sku_history`).
    public struct SkuVersion: Sendable, Equatable {
        public var sku: String
        public var version: Int64
        public var causes: [String]

        public init(sku: String, version: Int64, causes: [String]) {
            self.sku = sku
            self.version = version
            self.causes = causes
        }
    }

    /// An event applied in more than one transaction: it is a cause of several versions of one SKU.
    public struct RepeatedCause: Sendable, Equatable {
        public var messageId: String
        public var sku: String
        public var versions: [Int64]
    }

    /// Events applied more than once. One event is applied in one transaction, which commits at most one version
    /// per SKU; so a message id among the causes of two versions of one SKU was applied twice.
    public static func appliedMoreThanOnce(_ history: [SkuVersion]) -> [RepeatedCause] {
        var versions: [String: [String: [Int64]]] = [:]
        for entry in history {
            for cause in Set(entry.causes) { versions[entry.sku, default: [:]][cause, default: []].append(entry.version) }
        }
        var out: [RepeatedCause] = []
        for (sku, byCause) in versions {
            for (cause, list) in byCause where list.count > 1 {
                out.append(RepeatedCause(messageId: cause, sku: sku, versions: list.sorted()))
            }
        }
        return out.sorted { ($0.sku, $0.messageId) < ($1.sku, $1.messageId) }
    }

    /// Keys whose applied amount exceeds what was sent, with the excess: units shipped on an order line beyond the
    /// shipments sent for it, units received for a SKU beyond the receipts sent, and so on. Only a double
    /// application (or an event nobody sent) explains an excess; a shortfall is a lost event, counted by ``lost``.
    public static func excess(applied: [String: Int64], sent: [String: Int64]) -> [String: Int64] {
        var out: [String: Int64] = [:]
        for (key, value) in applied where value > sent[key] ?? 0 { out[key] = value - (sent[key] ?? 0) }
        return out
    }

    // MARK: - Order snapshots

    /// Orders whose applied snapshot is older than the newest one the shop sent: a late or reordered snapshot rolled
    /// the order back (or the newest one was never applied). Keys are `<shop>/<order id>`; values are
    /// (applied, newest) `updated_at` in milliseconds. An order the truth does not hold at all is not listed here
    /// (that is a lost event).
    public static func rolledBack(applied: [String: Int64], newest: [String: Int64]) -> [String: (applied: Int64, newest: Int64)] {
        var out: [String: (Int64, Int64)] = [:]
        for (key, sent) in newest {
            if let have = applied[key], have < sent { out[key] = (have, sent) }
        }
        return out
    }

    // MARK: - Stale writes

    /// One write of one SKU into one shop with the availability version it carried.
    public struct ShopWrite: Sendable, Equatable {
        public var shop: String
        public var sku: String
        public var version: Int64
        /// When it was applied (ms since 1970).
        public var atMillis: Int64
        /// Its place in the shop's own order of applied writes (``WriteLogEntry/appliedOrder``), when known.
        public var sequence: Int?

        public init(shop: String, sku: String, version: Int64, atMillis: Int64, sequence: Int? = nil) {
            self.shop = shop
            self.sku = sku
            self.version = version
            self.atMillis = atMillis
            self.sequence = sequence
        }
    }

    /// A write that moved a shop to an older version than one it had been written before.
    public struct StaleWrite: Sendable, Equatable {
        public var write: ShopWrite
        /// The newest version written to that shop for that SKU before it.
        public var newerBefore: Int64
    }

    /// Writes of a version older than one written to the same shop and SKU before (rewriting the same version is
    /// not stale). When every write of a shop and SKU has its place in the shop's order, that order alone decides;
    /// otherwise time does, then the place. Two clocks cannot order writes: a write report stamped by the exporter
    /// when the answer came and the next write applied by the shop fell in one millisecond, and the checker saw
    /// v53 written after v54 in a run where the exporter had written them in order.
    public static func staleWrites(_ writes: [ShopWrite]) -> [StaleWrite] {
        var byKey: [String: [ShopWrite]] = [:]
        for w in writes { byKey["\(w.shop)\u{0}\(w.sku)", default: []].append(w) }
        var out: [StaleWrite] = []
        for key in byKey.keys.sorted() {
            let group = byKey[key]!
            let ordered =
                group.allSatisfy { $0.sequence != nil }
                ? group.sorted { ($0.sequence!, $0.atMillis) < ($1.sequence!, $1.atMillis) }
                : group.sorted { ($0.atMillis, $0.sequence ?? .max) < ($1.atMillis, $1.sequence ?? .max) }
            var newest: Int64?
            for w in ordered {
                if let n = newest, w.version < n { out.append(StaleWrite(write: w, newerBefore: n)) }
                newest = max(newest ?? w.version, w.version)
            }
        }
        return out
    }

    /// The SKU and version of an exporter's single-SKU write reference, `gid://stockwire/StockVersion/<sku>/<version>`
    /// (the SKU percent-encoded);
    /// nil for a batch reference (`gid://stockwire/StockBatch/<uuid>`), which names no version.
    public static func stockVersion(reference: String) -> (sku: String, version: Int64)? {
        let prefix = "gid://stockwire/StockVersion/"
        guard reference.hasPrefix(prefix) else { return nil }
        let rest = reference.dropFirst(prefix.count)
        guard let slash = rest.lastIndex(of: "/"), slash != rest.startIndex,
            let version = Int64(rest[rest.index(after: slash)...])
        else { return nil }
        let sku = String(rest[..<slash])
        return (sku.removingPercentEncoding ?? sku, version)
    }

    // MARK: - Published versions

    /// One availability message as the broker routed it.
    public struct Publication: Sendable, Equatable {
        public var sku: String
        public var version: Int64
        /// The message's content apart from when it was computed: two publications of one version must be equal.
        public var content: String

        public init(sku: String, version: Int64, content: String) {
            self.sku = sku
            self.version = version
            self.content = content
        }
    }

    /// What the sequence of a SKU's availability messages looks like: the same version published again (the
    /// outbox's at-least-once), a version published after a newer one (out of order: an exporter keeps the newer),
    /// and one version published with different contents (a version reused: it no longer names one truth).
    public struct PublicationOrder: Sendable, Equatable {
        public var republished: Int
        public var outOfOrder: [Publication]
        public var conflicting: [Publication]
    }

    /// Checks the order and uniqueness of published versions, in the order they were routed.
    public static func publicationOrder(_ messages: [Publication]) -> PublicationOrder {
        var newest: [String: Int64] = [:]
        var seen: [String: [Int64: String]] = [:]
        var result = PublicationOrder(republished: 0, outOfOrder: [], conflicting: [])
        for m in messages {
            if let earlier = seen[m.sku]?[m.version] {
                result.republished += 1
                if earlier != m.content { result.conflicting.append(m) }
            } else {
                seen[m.sku, default: [:]][m.version] = m.content
            }
            if let n = newest[m.sku], m.version < n { result.outOfOrder.append(m) }
            newest[m.sku] = max(newest[m.sku] ?? m.version, m.version)
        }
        return result
    }

    // MARK: - Oversold

    /// Units sold beyond stock, per SKU: what customers kept (sold, net of cancellations, edits and refunds) minus
    /// every unit the warehouse received. Only SKUs with a positive figure are listed.
    public static func oversold(sold: [String: Int], received: [String: Int]) -> [String: Int] {
        var out: [String: Int] = [:]
        for (sku, units) in sold where units > received[sku] ?? 0 { out[sku] = units - (received[sku] ?? 0) }
        return out
    }

    // MARK: - Dead-letter accounting

    /// Where every message published to a work queue ended, by message id.
    public struct Accounting: Sendable, Equatable {
        /// Distinct message ids the broker took (its event log).
        public var published: Int
        /// Of those, applied by the consumer (its dedupe table).
        public var applied: Int
        /// Of those, in the dead-letter queue.
        public var deadLettered: Int
        /// Published ids neither applied nor dead-lettered: gone, or still queued.
        public var unaccounted: [String]
        /// Ids both applied and dead-lettered (a message must end in one place).
        public var both: [String]
        /// Applied ids the broker never took.
        public var appliedNotPublished: [String]
        /// Messages still in the work queue (ready or unacknowledged).
        public var remaining: Int

        /// Published = applied + dead-lettered, nothing left in the queue, nothing counted twice.
        public var balanced: Bool { unaccounted.isEmpty && both.isEmpty && appliedNotPublished.isEmpty && remaining == 0 }
    }

    /// Accounts for every published id: applied or dead-lettered, exactly one of the two, once quiet.
    public static func account(published: Set<String>, applied: Set<String>, deadLettered: Set<String>, remaining: Int)
        -> Accounting
    {
        let done = published.intersection(applied)
        let dead = published.intersection(deadLettered)
        return Accounting(
            published: published.count, applied: done.count, deadLettered: dead.count,
            unaccounted: published.subtracting(done).subtracting(dead).sorted(),
            both: done.intersection(dead).sorted(), appliedNotPublished: applied.subtracting(published).sorted(),
            remaining: remaining)
    }
}
