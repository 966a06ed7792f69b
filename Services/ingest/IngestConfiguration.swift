import AMQP
import Contracts
import Foundation
import Logging
import ServiceKit

/// Everything ingest needs to run, resolved once at start: flags win over environment variables, which win over
/// the defaults documented on each property. Secrets (webhook secrets, the movement token, the broker password) are
/// read from files so that an orchestrator can mount them; they never appear in logs, metrics or error bodies.
struct IngestConfiguration: Sendable {
    /// Address the HTTP server binds (`--host`, `STOCKWIRE_INGEST_HOST`; default `0.0.0.0`).
    var host = "0.0.0.0"
    /// HTTP port (`--port`, `STOCKWIRE_INGEST_PORT`; default 8080; 0 picks a free port).
    var port = 8080
    /// Shops and their webhook secrets (`--shops`/`STOCKWIRE_SHOPS` and `--shops-file`/`STOCKWIRE_SHOPS_FILE`).
    var shops = ShopSecrets(secrets: [:])
    /// The warehouse's bearer token for `/stock-movements` (`--movement-token-file`, `STOCKWIRE_MOVEMENT_TOKEN_FILE`);
    /// nil refuses every movement with 401.
    var movementToken: [UInt8]?
    /// Largest request body accepted, in bytes (`--max-body-bytes`, `STOCKWIRE_INGEST_MAX_BODY_BYTES`; default 8 MiB).
    /// A `products/update` of a product with 2,048 variants (Shopify's maximum) is about 1.7 MB and an order of 500
    /// lines about 0.7 MB (measured on the simulator's full REST bodies): 1 MiB refused the first with 413, and
    /// after Shopify's retries that event was gone.
    var maxBodyBytes = 8 << 20
    /// Bytes of request bodies held at once, all requests together (`--max-body-bytes-in-flight`,
    /// `STOCKWIRE_INGEST_MAX_BODY_BYTES_IN_FLIGHT`; default 64 MiB, at least the largest body): a body that would go
    /// over it is answered 503 with `Retry-After`. See ``BodyBudget``.
    var maxBodyBytesInFlight = 64 << 20
    /// A budget shared with the caller instead of a new one (tests read its peak).
    var bodyBudget: BodyBudget?
    /// How long a publish may wait for the broker's confirm before the answer is 503
    /// (`--confirm-timeout-ms`, `STOCKWIRE_INGEST_CONFIRM_TIMEOUT_MS`; default 3 s, inside Shopify's 5 s budget).
    var confirmTimeout: Duration = .seconds(3)
    /// Longest silence on a connection: until a request head is complete, between body chunks, and between
    /// keep-alive requests (`--idle-timeout-ms`, `STOCKWIRE_INGEST_IDLE_TIMEOUT_MS`; default 10 s).
    var idleTimeout: Duration = .seconds(10)
    /// Longest time to receive a whole body once its head arrived; slower senders get 408
    /// (`--read-timeout-ms`, `STOCKWIRE_INGEST_READ_TIMEOUT_MS`; default 10 s).
    var readTimeout: Duration = .seconds(10)
    /// Open connections at most; further clients wait in the listen backlog
    /// (`--max-connections`, `STOCKWIRE_INGEST_MAX_CONNECTIONS`; default 4096).
    var maxConnections = 4096
    /// Seconds announced in `Retry-After` with a 503 (`--retry-after-seconds`, `STOCKWIRE_INGEST_RETRY_AFTER_SECONDS`;
    /// default 2).
    var retryAfterSeconds = 2
    /// AMQP connections publishing round-robin, each with its own I/O thread
    /// (`--publisher-connections`, `STOCKWIRE_INGEST_PUBLISHER_CONNECTIONS`; default 2).
    var publisherConnections = 2
    /// Retention of the event log stream when it is first declared (`--event-log-max-age`,
    /// `STOCKWIRE_EVENT_LOG_MAX_AGE`, default `7D`; `--event-log-max-bytes`, `STOCKWIRE_EVENT_LOG_MAX_BYTES`, default
    /// 20 GB).
    var eventLogMaxAge = "7D"
    var eventLogMaxBytes: Int64 = 20_000_000_000
    /// The broker (`--amqp-url`/`STOCKWIRE_AMQP_URL`, `--amqp-password-file`/`STOCKWIRE_AMQP_PASSWORD_FILE`).
    var broker = BrokerSettings(url: nil, passwordFile: nil)
    /// Exchange events are published to. Not an operator setting (the other services expect
    /// ``StockwireTopology/eventsExchange``); tests point it at an exchange of their own.
    var eventsExchange = StockwireTopology.eventsExchange

    /// A configuration with the defaults (the broker from the environment), for tests to adjust.
    init() {}

    /// Resolves the configuration from the command line and `environment`, reading every secret file.
    init(options: IngestOptions, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        func env(_ name: String) -> String? {
            guard let v = environment[name]?.trimmingCharacters(in: .whitespaces), !v.isEmpty else { return nil }
            return v
        }
        func int(_ flag: Int?, _ name: String, _ fallback: Int, min: Int, max: Int = .max) throws -> Int {
            let value: Int
            if let flag {
                value = flag
            } else if let raw = env(name) {
                guard let n = Int(raw) else { throw ConfigurationError("\(name)='\(raw)' is not a whole number") }
                value = n
            } else {
                value = fallback
            }
            guard value >= min, value <= max else {
                throw ConfigurationError("\(name) / its flag must be between \(min) and \(max), not \(value)")
            }
            return value
        }
        host = options.host ?? env("STOCKWIRE_INGEST_HOST") ?? host
        port = try int(options.port, "STOCKWIRE_INGEST_PORT", port, min: 0, max: 65535)
        maxBodyBytes = try int(options.maxBodyBytes, "STOCKWIRE_INGEST_MAX_BODY_BYTES", maxBodyBytes, min: 1)
        maxBodyBytesInFlight = try int(
            options.maxBodyBytesInFlight, "STOCKWIRE_INGEST_MAX_BODY_BYTES_IN_FLIGHT", max(maxBodyBytesInFlight, maxBodyBytes),
            min: 1)
        guard maxBodyBytesInFlight >= maxBodyBytes else {
            throw ConfigurationError(
                "STOCKWIRE_INGEST_MAX_BODY_BYTES_IN_FLIGHT / --max-body-bytes-in-flight (\(maxBodyBytesInFlight)) must be at "
                    + "least STOCKWIRE_INGEST_MAX_BODY_BYTES (\(maxBodyBytes)): a body of the largest size could never be taken")
        }
        confirmTimeout = .milliseconds(
            try int(options.confirmTimeoutMs, "STOCKWIRE_INGEST_CONFIRM_TIMEOUT_MS", 3000, min: 1, max: 60_000))
        idleTimeout = .milliseconds(
            try int(options.idleTimeoutMs, "STOCKWIRE_INGEST_IDLE_TIMEOUT_MS", 10_000, min: 100))
        readTimeout = .milliseconds(
            try int(options.readTimeoutMs, "STOCKWIRE_INGEST_READ_TIMEOUT_MS", 10_000, min: 100))
        maxConnections = try int(options.maxConnections, "STOCKWIRE_INGEST_MAX_CONNECTIONS", maxConnections, min: 1)
        retryAfterSeconds = try int(
            options.retryAfterSeconds, "STOCKWIRE_INGEST_RETRY_AFTER_SECONDS", retryAfterSeconds, min: 0)
        publisherConnections = try int(
            options.publisherConnections, "STOCKWIRE_INGEST_PUBLISHER_CONNECTIONS", publisherConnections, min: 1,
            max: 64)
        broker = BrokerSettings(url: options.amqpURL, passwordFile: options.amqpPasswordFile)

        var shops = ShopSecrets(secrets: [:])
        if let age = options.eventLogMaxAge ?? env("STOCKWIRE_EVENT_LOG_MAX_AGE") {
            guard Self.isStreamAge(age) else {
                throw ConfigurationError(
                    "STOCKWIRE_EVENT_LOG_MAX_AGE / --event-log-max-age='\(age)' must be a number and Y, M, D, h, m or s (e.g. 7D, 36h)")
            }
            eventLogMaxAge = age
        }
        if let bytes = options.eventLogMaxBytes {
            eventLogMaxBytes = bytes
        } else if let raw = env("STOCKWIRE_EVENT_LOG_MAX_BYTES") {
            guard let n = Int64(raw) else {
                throw ConfigurationError("STOCKWIRE_EVENT_LOG_MAX_BYTES='\(raw)' is not a whole number")
            }
            eventLogMaxBytes = n
        }
        guard eventLogMaxBytes >= 1_000_000 else {
            throw ConfigurationError("STOCKWIRE_EVENT_LOG_MAX_BYTES / --event-log-max-bytes must be at least 1000000, not \(eventLogMaxBytes)")
        }
        if let spec = options.shops ?? env("STOCKWIRE_SHOPS") {
            shops = try ShopSecrets.load(entries: spec.split(separator: ";").map(String.init), origin: "STOCKWIRE_SHOPS")
        }
        if let path = options.shopsFile ?? env("STOCKWIRE_SHOPS_FILE") {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ConfigurationError("shops file \(path) (STOCKWIRE_SHOPS_FILE) is missing or not readable")
            }
            let lines = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).map(String.init)
            shops = try shops.merging(ShopSecrets.load(entries: lines, origin: "shops file \(path)"))
        }
        self.shops = shops
        if let path = options.movementTokenFile ?? env("STOCKWIRE_MOVEMENT_TOKEN_FILE") {
            movementToken = Array(try Environment.secret(file: path, purpose: "stock movement bearer token").utf8)
        }
    }

    /// One unstarted connection per publisher, each declaring the ingest topology on every connect.
    func makeConnections(logger: Logger) throws -> [AMQPConnection] {
        try (0..<publisherConnections).map { i in
            let amqp = try broker.configuration(connectionName: "ingest-\(ProcessInfo.processInfo.processIdentifier)-\(i)")
            return AMQPConnection(
                configuration: amqp,
                topology: StockwireTopology.ingest(logMaxAge: eventLogMaxAge, logMaxBytes: eventLogMaxBytes), logger: logger)
        }
    }

    /// RabbitMQ's `x-max-age` syntax: a positive whole number and one of Y, M, D, h, m, s.
    static func isStreamAge(_ text: String) -> Bool {
        guard let unit = text.last, "YMDhms".contains(unit), let n = Int(text.dropLast()), n > 0 else { return false }
        return true
    }

    /// What is safe to log at start: no secret values.
    var summary: Logger.Metadata {
        [
            "bind": "\(host):\(port)", "shops": "\(shops.count)", "movement_token": "\(movementToken == nil ? "absent" : "set")",
            "max_body_bytes": "\(maxBodyBytes)", "max_body_bytes_in_flight": "\(maxBodyBytesInFlight)",
            "confirm_timeout": "\(confirmTimeout)", "idle_timeout": "\(idleTimeout)",
            "read_timeout": "\(readTimeout)", "max_connections": "\(maxConnections)",
            "publisher_connections": "\(publisherConnections)", "exchange": "\(eventsExchange)",
            "event_log_retention": "\(eventLogMaxAge), \(eventLogMaxBytes) bytes",
        ]
    }
}
