import Foundation

/// The product drop's JSON report (`stockwire-scenario product-drop --json`): what `Tools/charts` draws and the
/// end-to-end tests read. The keys are the property names.
public struct ProductDropReport: Codable, Sendable {
    public var settings: Settings
    public var shops: [String]
    public var soldPerShop: [String: Int]
    public var sold: Int
    public var oversold: Int
    /// Units never sold although buyers were turned away (a shop showed less than the warehouse had).
    public var stranded: Int
    public var refused: Int
    /// `event-driven` (Stockwire's exporter, mirror mode), `guard` (with the zero-oversell guard) or `interval`
    /// (the baseline).
    public var mode: String
    /// Interval baseline only: how many times the runner overwrote the shops during the run.
    public var intervalSyncs: Int?
    public var secondsToSellOut: Double?
    public var shopShowedZeroAfterSeconds: [String: Double]
    /// Sale in one shop → the lower level written to another shop, in milliseconds.
    public var saleVisibleElsewhereMs: Percentiles
    /// The same samples, bucketed like the exporter's histogram.
    public var saleVisibleElsewhereHistogram: LatencyHistogram
    /// Ingest receipt → write applied in each shop, from the exporter's histogram during the drop (nil without it).
    public var endToEnd: LatencyHistogram?
    public var consistency: Consistency
    /// Admin API calls per shop by outcome (applied, stale, throttled, …), from the simulator's write log.
    public var adminCalls: [String: [String: Int]]
    public var resources: [String: Resource]
    public var timeline: [Sample]

    /// Creates the report.
    public init(
        settings: Settings, shops: [String], soldPerShop: [String: Int], sold: Int, oversold: Int, stranded: Int, refused: Int,
        mode: String, intervalSyncs: Int? = nil, secondsToSellOut: Double? = nil, shopShowedZeroAfterSeconds: [String: Double],
        saleVisibleElsewhereMs: Percentiles, saleVisibleElsewhereHistogram: LatencyHistogram, endToEnd: LatencyHistogram? = nil,
        consistency: Consistency, adminCalls: [String: [String: Int]], resources: [String: Resource], timeline: [Sample]
    ) {
        self.settings = settings
        self.shops = shops
        self.soldPerShop = soldPerShop
        self.sold = sold
        self.oversold = oversold
        self.stranded = stranded
        self.refused = refused
        self.mode = mode
        self.intervalSyncs = intervalSyncs
        self.secondsToSellOut = secondsToSellOut
        self.shopShowedZeroAfterSeconds = shopShowedZeroAfterSeconds
        self.saleVisibleElsewhereMs = saleVisibleElsewhereMs
        self.saleVisibleElsewhereHistogram = saleVisibleElsewhereHistogram
        self.endToEnd = endToEnd
        self.consistency = consistency
        self.adminCalls = adminCalls
        self.resources = resources
        self.timeline = timeline
    }

    /// What the drop was asked to do.
    public struct Settings: Codable, Sendable {
        public var units: Int
        public var buyers: Int
        public var seconds: Double
        public var seed: UInt64
        /// Set for the interval baseline: no exporter; the runner overwrites every shop with the truth this often.
        public var intervalSeconds: Double? = nil
        /// Set for guard mode: the calculator's zero-oversell guard threshold (shares instead of mirrored counts).
        public var guardThreshold: Int? = nil
        /// Guard mode: idle seconds before a shop's surplus is re-balanced.
        public var guardRebalanceSeconds: Int? = nil

        /// `mirror`, `guard` or `interval`.
        public var mode: String { intervalSeconds != nil ? "interval" : guardThreshold != nil ? "guard" : "event-driven" }

        /// Creates the settings.
        public init(
            units: Int, buyers: Int, seconds: Double, seed: UInt64, intervalSeconds: Double? = nil, guardThreshold: Int? = nil,
            guardRebalanceSeconds: Int? = nil
        ) {
            self.units = units
            self.buyers = buyers
            self.seconds = seconds
            self.seed = seed
            self.intervalSeconds = intervalSeconds
            self.guardThreshold = guardThreshold
            self.guardRebalanceSeconds = guardRebalanceSeconds
        }
    }

    /// The shops' levels at one moment of the drop.
    public struct Sample: Codable, Sendable {
        public var t: Double
        public var levels: [String: Int]
        public var sold: Int

        /// Creates a sample.
        public init(t: Double, levels: [String: Int], sold: Int) {
            self.t = t
            self.levels = levels
            self.sold = sold
        }
    }

    /// What one process used.
    public struct Resource: Codable, Sendable {
        public var cpuSeconds: Double
        public var peakMiB: Double

        /// Creates a figure.
        public init(cpuSeconds: Double, peakMiB: Double) {
            self.cpuSeconds = cpuSeconds
            self.peakMiB = peakMiB
        }
    }

    /// The consistency check at the end of a run.
    public struct Consistency: Codable, Sendable {
        public var passed: Bool
        public var details: [String]
        /// The PostgreSQL truth equals the recomputation from the simulator's orders and the movements sent.
        public var truthMatchesSent: Bool? = nil
        /// Once quiet, every shop shows the truth for every SKU it lists.
        public var shopsMatchTruth: Bool? = nil

        /// Creates a result.
        public init(passed: Bool, details: [String], truthMatchesSent: Bool? = nil, shopsMatchTruth: Bool? = nil) {
            self.passed = passed
            self.details = details
            self.truthMatchesSent = truthMatchesSent
            self.shopsMatchTruth = shopsMatchTruth
        }
    }
}
