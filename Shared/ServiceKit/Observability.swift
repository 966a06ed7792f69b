import Logging
import Metrics
import Prometheus
import Synchronization

/// Process-wide logging and metrics set-up, done once by each executable's `main`.
public enum Observability {
    private static let registryBox = Mutex<PrometheusCollectorRegistry?>(nil)

    /// Logs to standard error at `level` (from `STOCKWIRE_LOG_LEVEL` when nil), with metadata, and installs the
    /// Prometheus metrics factory. Safe to call once per process.
    public static func bootstrap(service: String, level: Logger.Level? = nil) -> Logger {
        let level = level ?? Environment.string("STOCKWIRE_LOG_LEVEL").flatMap(Logger.Level.init(rawValue:)) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let registry = PrometheusCollectorRegistry()
        registryBox.withLock { $0 = registry }
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        var logger = Logger(label: "stockwire.\(service)")
        logger.logLevel = level
        return logger
    }

    /// The metrics in Prometheus text format (empty before ``bootstrap(service:level:)``).
    public static func prometheusText() -> [UInt8] {
        registryBox.withLock { $0?.emitToBuffer() ?? [] }
    }
}
