import Logging
import Synchronization

/// Every log line of the loggers it makes, rendered with level, label, message and metadata.
public final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])

    public init() {}

    /// Everything logged so far, one line per message.
    public var text: String { lines.withLock { $0.joined(separator: "\n") } }

    /// How many lines logged so far contain `fragment`.
    public func count(_ fragment: String) -> Int { lines.withLock { $0.count { $0.contains(fragment) } } }

    /// A logger writing here (every level; set the logger's `logLevel` to filter).
    public func logger(_ label: String, level: Logger.Level = .trace) -> Logger {
        var logger = Logger(label: label, factory: handler)
        logger.logLevel = level
        return logger
    }

    public func handler(_ label: String) -> any LogHandler { Handler(label: label, capture: self) }

    struct Handler: LogHandler {
        let label: String
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(
            level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String,
            function: String, line: UInt
        ) {
            let all = self.metadata.merging(metadata ?? [:]) { _, new in new }
            let rendered = "\(level) \(label) \(message) \(all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })"
            capture.lines.withLock { $0.append(rendered) }
        }
    }
}
