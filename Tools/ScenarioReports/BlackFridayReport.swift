import Foundation

/// The Black Friday run's JSON report (`stockwire-scenario black-friday --json`, and `load` of a fault run's):
/// what `Tools/charts` draws and the end-to-end tests read. The keys are the property names.
public struct BlackFridayReport: Codable, Sendable {
    public var settings: Settings
    public var shops: [String]
    /// Events by kind: done (the shop or ingest accepted it) and refused (e.g. a checkout the shop's stock did not cover).
    public var done: [String: Int]
    public var refused: [String: Int]
    /// Events issued per second, as achieved by the runner (it falls behind when this machine is saturated).
    public var issuedPerSecond: Double
    /// Webhooks answered 2xx by ingest during the load and the drain after it.
    public var webhooksAccepted: Int
    public var webhookAttemptsFailed: Int
    public var duplicatesInjected: Int
    /// From the first event to the last 2xx answer.
    public var acceptSeconds: Double
    public var webhooksPerSecond: Double
    /// 2xx answers per whole second of the load window: median and lowest.
    public var webhooksPerSecondMedian: Double
    public var webhooksPerSecondLowest: Double
    public var movementsAccepted: Int
    /// The calculator's dedupe table: events applied exactly once (webhooks and movements, this run).
    public var eventsApplied: Int
    /// The calculator's counters during the load: applied, duplicate, stale, ignored.
    public var calculatorCounters: [String: Double]
    /// Ingest receipt → write applied in each shop (exporter histogram, load and drain only).
    public var endToEnd: LatencyHistogram?
    /// How long the (simulated) shops took to answer the exporter's writes, load and drain only: the part of the
    /// end-to-end time that is the shop's, not Stockwire's.
    public var shopWriteAnswers: LatencyHistogram? = nil
    /// CPU per part from the start of the load until quiet (nil in reports written before it was measured).
    public var cpu: CPUBudget? = nil
    /// What the pipeline did for the load (broker copies, SQL, Admin API calls), counted from the load's start
    /// until quiet (nil in reports written before it was counted).
    public var counts: PipelineCounts? = nil
    public var secondsToQuiet: Double
    /// Of `secondsToQuiet`, the wait for Shopify's webhook retries still scheduled when the load was over.
    public var secondsWaitingForShopify: Double? = nil
    /// Whether the system went quiet with every shop equal to the truth within the quiet timeout.
    public var converged: Bool? = nil
    public var consistency: ProductDropReport.Consistency
    public var resources: [String: ProductDropReport.Resource]
    /// Set when the raw broker limit was measured in the same invocation.
    public var rawLimit: RawLimitReport?
    public var loadAverage: String

    /// Creates the report.
    public init(
        settings: Settings, shops: [String], done: [String: Int], refused: [String: Int], issuedPerSecond: Double,
        webhooksAccepted: Int, webhookAttemptsFailed: Int, duplicatesInjected: Int, acceptSeconds: Double,
        webhooksPerSecond: Double, webhooksPerSecondMedian: Double, webhooksPerSecondLowest: Double, movementsAccepted: Int,
        eventsApplied: Int, calculatorCounters: [String: Double], endToEnd: LatencyHistogram? = nil,
        shopWriteAnswers: LatencyHistogram? = nil, cpu: CPUBudget? = nil, counts: PipelineCounts? = nil, secondsToQuiet: Double,
        secondsWaitingForShopify: Double? = nil, converged: Bool? = nil, consistency: ProductDropReport.Consistency,
        resources: [String: ProductDropReport.Resource], rawLimit: RawLimitReport? = nil, loadAverage: String
    ) {
        self.settings = settings
        self.shops = shops
        self.done = done
        self.refused = refused
        self.issuedPerSecond = issuedPerSecond
        self.webhooksAccepted = webhooksAccepted
        self.webhookAttemptsFailed = webhookAttemptsFailed
        self.duplicatesInjected = duplicatesInjected
        self.acceptSeconds = acceptSeconds
        self.webhooksPerSecond = webhooksPerSecond
        self.webhooksPerSecondMedian = webhooksPerSecondMedian
        self.webhooksPerSecondLowest = webhooksPerSecondLowest
        self.movementsAccepted = movementsAccepted
        self.eventsApplied = eventsApplied
        self.calculatorCounters = calculatorCounters
        self.endToEnd = endToEnd
        self.shopWriteAnswers = shopWriteAnswers
        self.cpu = cpu
        self.counts = counts
        self.secondsToQuiet = secondsToQuiet
        self.secondsWaitingForShopify = secondsWaitingForShopify
        self.converged = converged
        self.consistency = consistency
        self.resources = resources
        self.rawLimit = rawLimit
        self.loadAverage = loadAverage
    }

    /// What the load was asked to do.
    public struct Settings: Codable, Sendable {
        /// Events (checkouts, edits, cancellations, refunds, receipts, shipments) per second.
        public var rate: Double
        public var seconds: Double
        public var skus: Int
        public var zipfExponent: Double
        public var duplicateRate: Double
        public var reorderWindowMs: Int
        public var seed: UInt64
        /// Longest wait for the system to go quiet and converge after the load.
        public var quietTimeout: Double = 120

        /// Creates the settings.
        public init(
            rate: Double, seconds: Double, skus: Int, zipfExponent: Double, duplicateRate: Double, reorderWindowMs: Int,
            seed: UInt64, quietTimeout: Double = 120
        ) {
            self.rate = rate
            self.seconds = seconds
            self.skus = skus
            self.zipfExponent = zipfExponent
            self.duplicateRate = duplicateRate
            self.reorderWindowMs = reorderWindowMs
            self.seed = seed
            self.quietTimeout = quietTimeout
        }
    }
}
