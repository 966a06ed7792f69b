import Foundation

/// The fault suite's checker figures (`checker` of a fault run's report): what a merchant relies on, as the
/// scenario computed it from the run's logs, the truth and the broker.
public struct CheckerReport: Codable, Sendable {
    /// lost = duplicated = unexpected = rolled back = stale = 0, the accounting balanced, the dead letters as
    /// expected, converged within the checker's limit (30 s).
    public var passed: Bool
    /// What failed, in words.
    public var failures: [String]
    /// Distinct message ids sent (every webhook delivery attempt, every movement, every message the injector
    /// sent or published), answered 2xx (webhooks and movements), and applied (the calculator's dedupe table).
    public var sent: Int
    public var accepted: Int
    public var applied: Int
    /// Of the accepted, the injector's own deliveries (duplicates, late and reordered snapshots, re-posted movements).
    public var injectedAccepted: Int
    /// Webhooks never answered 2xx by the end of the run (Shopify gave up after its retries, or still retries):
    /// lost to the merchant although no answer promised them, so a failure too.
    public var neverAccepted: Int
    /// Answered 2xx, never applied; `lostInDeadLetters` of them sit in a dead-letter queue.
    public var lost: Int
    public var lostInDeadLetters: Int
    /// Events applied more than once: a message id among the causes of two versions of a SKU, plus order lines and
    /// SKUs holding more shipped, refunded or received units than were sent.
    public var duplicated: Int
    /// Applied, never sent.
    public var unexpected: Int
    /// Orders whose applied snapshot is older than the newest one the shop sent (a late or reordered snapshot won).
    public var rolledBack: Int
    /// Writes that moved a shop to an older availability version of a SKU than it had been written before.
    public var staleWrites: Int
    public var writes: WriteCoverage
    /// The availability messages as routed to the shops' queues (a tap queue of the run's own).
    public var publications: Publications
    /// Units sold beyond every unit received (mirror mode can oversell the last units; reported, not a failure).
    public var oversoldUnits: Int
    public var oversoldSkus: Int
    /// From the later of the fault healed (the load over and the last restart ready) and Shopify's last webhook
    /// retry delivered, to quiet with every shop equal to the truth.
    public var convergenceSeconds: Double
    /// From the fault healed until Shopify's last webhook retry was delivered (not part of the convergence).
    public var secondsWaitingForShopify: Double
    public var converged: Bool
    public var accounting: Accounting
    /// Up to a few ids or lines per failing figure, to start a diagnosis.
    public var examples: [String]

    /// Creates the report.
    public init(
        passed: Bool, failures: [String], sent: Int, accepted: Int, applied: Int, injectedAccepted: Int, neverAccepted: Int,
        lost: Int, lostInDeadLetters: Int, duplicated: Int, unexpected: Int, rolledBack: Int, staleWrites: Int,
        writes: WriteCoverage, publications: Publications, oversoldUnits: Int, oversoldSkus: Int, convergenceSeconds: Double,
        secondsWaitingForShopify: Double, converged: Bool, accounting: Accounting, examples: [String]
    ) {
        self.passed = passed
        self.failures = failures
        self.sent = sent
        self.accepted = accepted
        self.applied = applied
        self.injectedAccepted = injectedAccepted
        self.neverAccepted = neverAccepted
        self.lost = lost
        self.lostInDeadLetters = lostInDeadLetters
        self.duplicated = duplicated
        self.unexpected = unexpected
        self.rolledBack = rolledBack
        self.staleWrites = staleWrites
        self.writes = writes
        self.publications = publications
        self.oversoldUnits = oversoldUnits
        self.oversoldSkus = oversoldSkus
        self.convergenceSeconds = convergenceSeconds
        self.secondsWaitingForShopify = secondsWaitingForShopify
        self.converged = converged
        self.accounting = accounting
        self.examples = examples
    }

    /// How many Admin API writes the stale-write check could place on a version.
    public struct WriteCoverage: Codable, Sendable {
        /// SKU-writes applied in the shops (one per SKU per successful `inventorySetQuantities`).
        public var applied: Int
        /// Of those, single-SKU writes: their reference (`StockVersion/<sku>/<version>`) names the version.
        public var versionFromReference: Int
        /// Writes the exporters reported with their versions (`shop_writes`, first write of each version only): the
        /// only version source for batch writes, whose reference (`StockBatch/<uuid>`) names none.
        public var versionFromReports: Int
        /// Reports no applied mutation stands behind (the shop held the level already; or a report whose key the
        /// shop never applied): not counted as writes.
        public var reportsWithoutWrite: Int

        /// Creates the figures.
        public init(applied: Int, versionFromReference: Int, versionFromReports: Int, reportsWithoutWrite: Int) {
            self.applied = applied
            self.versionFromReference = versionFromReference
            self.versionFromReports = versionFromReports
            self.reportsWithoutWrite = reportsWithoutWrite
        }
    }

    /// What the calculator published, read back from the tap (`faults.availability-tap`).
    public struct Publications: Codable, Sendable {
        public var messages: Int
        /// The same version again (the outbox publishes at least once): harmless, exporters keep the newest.
        public var republished: Int
        /// A version after a newer one of the same SKU (reported: exporters keep the newest version).
        public var outOfOrder: Int
        /// One version published with different contents: a version number reused for another truth (a failure).
        public var conflicting: Int

        /// Creates the figures.
        public init(messages: Int, republished: Int, outOfOrder: Int, conflicting: Int) {
            self.messages = messages
            self.republished = republished
            self.outOfOrder = outOfOrder
            self.conflicting = conflicting
        }
    }

    /// The message accounting: every event published is applied or dead-lettered, nothing left in a queue.
    public struct Accounting: Codable, Sendable {
        /// `calculator.events`, by message id: published (the broker's event log `stockwire.events.log`) = applied
        /// (dedupe table) + dead-lettered (`dead.calculator.events`), nothing left in the queue.
        public var published: Int
        public var applied: Int
        public var deadLettered: Int
        public var unaccounted: Int
        public var appliedAndDeadLettered: Int
        public var appliedNotPublished: Int
        public var remaining: Int
        public var balanced: Bool
        /// Every queue of the run's virtual host, with the broker's counters.
        public var queues: [QueueFigures]
        /// Message ids in the calculator's and each exporter's dead-letter queue.
        public var calculatorDeadLetters: [String]
        public var exporterDeadLetters: [String: [String]]
        /// Dead letters are exactly the poison the run injected (none without the poison fault).
        public var deadLettersAsExpected: Bool

        /// Creates the figures.
        public init(
            published: Int, applied: Int, deadLettered: Int, unaccounted: Int, appliedAndDeadLettered: Int,
            appliedNotPublished: Int, remaining: Int, balanced: Bool, queues: [QueueFigures], calculatorDeadLetters: [String],
            exporterDeadLetters: [String: [String]], deadLettersAsExpected: Bool
        ) {
            self.published = published
            self.applied = applied
            self.deadLettered = deadLettered
            self.unaccounted = unaccounted
            self.appliedAndDeadLettered = appliedAndDeadLettered
            self.appliedNotPublished = appliedNotPublished
            self.remaining = remaining
            self.balanced = balanced
            self.queues = queues
            self.calculatorDeadLetters = calculatorDeadLetters
            self.exporterDeadLetters = exporterDeadLetters
            self.deadLettersAsExpected = deadLettersAsExpected
        }
    }
}
