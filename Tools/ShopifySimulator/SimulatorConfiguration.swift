import Foundation

/// Everything a simulator run needs: the shops it serves, where webhooks go, and how fast simulated time runs.
///
/// Read from JSON (``load(contentsOf:)``) or built in code. Every field has a default, so `{}` is a valid
/// (shop-less) configuration; shops can also be added at run time.
public struct SimulatorConfiguration: Sendable, Codable, Equatable {
    /// Address to bind. Default `127.0.0.1`.
    public var host: String
    /// Port to bind; `0` picks a free one (see ``Simulator/port``). Default `0`.
    public var port: Int
    /// The shops served, each under `/shops/<domain>`.
    public var shops: [ShopConfiguration]
    /// Where webhooks are POSTed (one URL for all shops); no webhooks at all when nil. Default nil.
    public var ingestURL: String?
    /// Further instances of ingest behind the same endpoint, as a load balancer sees them: deliveries go round-robin
    /// over `ingestURL` and these, and a delivery whose connection fails (an instance down) goes to the next one at
    /// once (a load balancer's passive health check, e.g. nginx `proxy_next_upstream error`). Default none.
    public var moreIngestURLs: [String]
    /// Factor applied to Shopify's webhook retry schedule (8 retries over about 4 hours).
    /// Default `1/600`: the first retry after 100 ms, all eight within 24 s. `1` is real time.
    public var timeScale: Double
    /// Webhook delivery attempts in flight at once. Default 32.
    public var webhookConcurrency: Int
    /// Longest a request is held while a shop's `hang` fault is on, in seconds; then it is answered 503.
    /// Default 600.
    public var maxHangSeconds: Double
    /// Log level for the simulator's own logs (`trace` … `critical`). Default `warning`.
    public var logLevel: String

    /// A configuration with the given fields; every omitted one takes its documented default.
    public init(
        host: String = "127.0.0.1",
        port: Int = 0,
        shops: [ShopConfiguration] = [],
        ingestURL: String? = nil,
        moreIngestURLs: [String] = [],
        timeScale: Double = 1.0 / 600.0,
        webhookConcurrency: Int = 32,
        maxHangSeconds: Double = 600,
        logLevel: String = "warning"
    ) {
        self.host = host
        self.port = port
        self.shops = shops
        self.ingestURL = ingestURL
        self.moreIngestURLs = moreIngestURLs
        self.timeScale = timeScale
        self.webhookConcurrency = webhookConcurrency
        self.maxHangSeconds = maxHangSeconds
        self.logLevel = logLevel
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = SimulatorConfiguration()
        host = try c.decodeIfPresent(String.self, forKey: .host) ?? d.host
        port = try c.decodeIfPresent(Int.self, forKey: .port) ?? d.port
        shops = try c.decodeIfPresent([ShopConfiguration].self, forKey: .shops) ?? d.shops
        ingestURL = try c.decodeIfPresent(String.self, forKey: .ingestURL) ?? d.ingestURL
        moreIngestURLs = try c.decodeIfPresent([String].self, forKey: .moreIngestURLs) ?? d.moreIngestURLs
        timeScale = try c.decodeIfPresent(Double.self, forKey: .timeScale) ?? d.timeScale
        webhookConcurrency = try c.decodeIfPresent(Int.self, forKey: .webhookConcurrency) ?? d.webhookConcurrency
        maxHangSeconds = try c.decodeIfPresent(Double.self, forKey: .maxHangSeconds) ?? d.maxHangSeconds
        logLevel = try c.decodeIfPresent(String.self, forKey: .logLevel) ?? d.logLevel
    }

    /// Reads a JSON configuration file.
    public static func load(contentsOf path: String) throws -> SimulatorConfiguration {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw SimulatorError(.configuration, "configuration file \(path) not readable: \(error.localizedDescription)")
        }
        do {
            return try JSONDecoder().decode(SimulatorConfiguration.self, from: data)
        } catch {
            throw SimulatorError(.configuration, "configuration file \(path) is not a valid simulator configuration: \(error)")
        }
    }

    /// Checks what decoding cannot: unique domains, sane numbers.
    public func validate() throws {
        var seen: Set<String> = []
        for shop in shops {
            try shop.validate()
            guard seen.insert(shop.domain).inserted else {
                throw SimulatorError(.configuration, "shop \(shop.domain) is configured twice; domains must be unique")
            }
        }
        guard timeScale > 0 else { throw SimulatorError(.configuration, "timeScale must be > 0 (1 is real time)") }
        guard webhookConcurrency > 0 else { throw SimulatorError(.configuration, "webhookConcurrency must be > 0") }
        for url in [ingestURL].compactMap({ $0 }) + moreIngestURLs where URL(string: url)?.host == nil {
            throw SimulatorError(.configuration, "ingest URL \(url) is not an absolute http(s) URL")
        }
    }
}

/// One simulated shop.
public struct ShopConfiguration: Sendable, Codable, Equatable {
    /// The shop's domain, e.g. `acme.myshopify.com`; also its path segment under `/shops/`.
    public var domain: String
    /// The Admin API access token the shop accepts in `X-Shopify-Access-Token`.
    public var accessToken: String
    /// The secret that signs the shop's webhooks (`X-Shopify-Hmac-Sha256`).
    public var webhookSecret: String
    /// The GraphQL rate limit. Default ``RateLimitPlan/standard``.
    public var plan: RateLimitPlan
    /// The id of the shop's single location. Default: derived from the domain, unique per shop.
    public var locationID: Int64
    /// The location's name. Default `Warehouse`.
    public var locationName: String
    /// Sent as `X-Shopify-API-Version` on webhooks. Default `2026-10`.
    public var webhookAPIVersion: String
    /// Offset of the shop's time zone used in REST timestamps (`…-04:00`), in minutes. Default 0.
    public var utcOffsetMinutes: Int
    /// The webhook topics the shop is subscribed to, as an app's subscriptions are; nil (the default): every topic
    /// the simulator fires.
    public var webhookTopics: Set<String>?
    /// The access scopes the app's token has (`currentAppInstallation.accessScopes`); default: what Stockwire needs.
    public var accessScopes: [String]

    /// What Stockwire needs.
    public static let stockwireScopes = ["read_inventory", "write_inventory", "read_products", "read_locations", "read_orders"]

    /// A shop; omitted fields take their documented defaults.
    public init(
        domain: String,
        accessToken: String,
        webhookSecret: String,
        plan: RateLimitPlan = .standard,
        locationID: Int64? = nil,
        locationName: String = "Warehouse",
        webhookAPIVersion: String = "2026-10",
        utcOffsetMinutes: Int = 0,
        webhookTopics: Set<String>? = nil,
        accessScopes: [String] = ShopConfiguration.stockwireScopes
    ) {
        self.accessScopes = accessScopes
        self.domain = domain
        self.accessToken = accessToken
        self.webhookSecret = webhookSecret
        self.plan = plan
        self.locationID = locationID ?? Self.defaultLocationID(for: domain)
        self.locationName = locationName
        self.webhookAPIVersion = webhookAPIVersion
        self.utcOffsetMinutes = utcOffsetMinutes
        self.webhookTopics = webhookTopics
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        domain = try c.decode(String.self, forKey: .domain)
        accessToken = try c.decode(String.self, forKey: .accessToken)
        webhookSecret = try c.decode(String.self, forKey: .webhookSecret)
        plan = try c.decodeIfPresent(RateLimitPlan.self, forKey: .plan) ?? .standard
        locationID = try c.decodeIfPresent(Int64.self, forKey: .locationID) ?? Self.defaultLocationID(for: domain)
        locationName = try c.decodeIfPresent(String.self, forKey: .locationName) ?? "Warehouse"
        webhookAPIVersion = try c.decodeIfPresent(String.self, forKey: .webhookAPIVersion) ?? "2026-10"
        utcOffsetMinutes = try c.decodeIfPresent(Int.self, forKey: .utcOffsetMinutes) ?? 0
        webhookTopics = try c.decodeIfPresent(Set<String>.self, forKey: .webhookTopics)
        accessScopes = try c.decodeIfPresent([String].self, forKey: .accessScopes) ?? Self.stockwireScopes
    }

    /// A stable location id in Shopify's usual range, different for different domains.
    static func defaultLocationID(for domain: String) -> Int64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in domain.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return 60_000_000_000 + Int64(hash % 9_000_000_000)
    }

    func validate() throws {
        guard !domain.isEmpty, !domain.contains("/") else {
            throw SimulatorError(.configuration, "shop domain '\(domain)' must be non-empty and contain no '/'")
        }
        guard !accessToken.isEmpty else { throw SimulatorError(.configuration, "shop \(domain): accessToken is empty") }
        guard !webhookSecret.isEmpty else { throw SimulatorError(.configuration, "shop \(domain): webhookSecret is empty") }
        guard plan.restoreRate > 0, plan.maximumAvailable > 0 else {
            throw SimulatorError(.configuration, "shop \(domain): plan needs restoreRate > 0 and maximumAvailable > 0")
        }
    }
}

/// A GraphQL cost budget: a leaky bucket of `maximumAvailable` points refilled at `restoreRate` points per second.
///
/// JSON: `"standard"`, `"advanced"`, `"plus"`, `"enterprise"`, or `{"restoreRate": 50, "maximumAvailable": 1000}`.
public struct RateLimitPlan: Sendable, Codable, Equatable {
    /// Points restored per second.
    public var restoreRate: Double
    /// Bucket size in points.
    public var maximumAvailable: Double

    /// A custom plan.
    public init(restoreRate: Double, maximumAvailable: Double) {
        self.restoreRate = restoreRate
        self.maximumAvailable = maximumAvailable
    }

    /// Shopify Standard: 100 points/s, bucket 2,000.
    public static let standard = RateLimitPlan(restoreRate: 100, maximumAvailable: 2_000)
    /// Shopify Advanced: 200 points/s, bucket 4,000.
    public static let advanced = RateLimitPlan(restoreRate: 200, maximumAvailable: 4_000)
    /// Shopify Plus: 1,000 points/s, bucket 20,000.
    public static let plus = RateLimitPlan(restoreRate: 1_000, maximumAvailable: 20_000)
    /// Shopify for enterprises (Commerce Components): 2,000 points/s, bucket 40,000.
    public static let enterprise = RateLimitPlan(restoreRate: 2_000, maximumAvailable: 40_000)

    /// The preset called `name`, if any.
    public static func preset(named name: String) -> RateLimitPlan? {
        switch name.lowercased() {
        case "standard", "basic": return .standard
        case "advanced": return .advanced
        case "plus": return .plus
        case "enterprise": return .enterprise
        default: return nil
        }
    }

    private enum CodingKeys: String, CodingKey { case restoreRate, maximumAvailable }

    public init(from decoder: any Decoder) throws {
        if let single = try? decoder.singleValueContainer(), let name = try? single.decode(String.self) {
            guard let preset = Self.preset(named: name) else {
                throw DecodingError.dataCorrupted(
                    .init(codingPath: decoder.codingPath, debugDescription: "unknown plan '\(name)' (standard, advanced, plus, enterprise or {restoreRate, maximumAvailable})"))
            }
            self = preset
            return
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        restoreRate = try c.decode(Double.self, forKey: .restoreRate)
        maximumAvailable = try c.decode(Double.self, forKey: .maximumAvailable)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(restoreRate, forKey: .restoreRate)
        try c.encode(maximumAvailable, forKey: .maximumAvailable)
    }
}
