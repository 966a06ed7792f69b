import AMQP
import Logging
import ServiceLifecycle

/// Runs an ``AMQPConnection`` as a lifecycle service: connected while the group runs, closed on shutdown.
public struct BrokerService: Service {
    /// The connection it keeps.
    public let connection: AMQPConnection

    /// Wraps a connection that has not been started yet.
    public init(connection: AMQPConnection) { self.connection = connection }

    public func run() async throws {
        connection.start()
        try? await gracefulShutdown()
        await connection.close()
    }

    /// Waits until `connection` has connected once, logging every 30 s without it; false when the task is
    /// cancelled or the service group shuts down first. Consumers call it before they subscribe.
    public static func waitForFirstConnection(_ connection: AMQPConnection, logger: Logger) async -> Bool {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown { try await connection.waitUntilConnected(timeout: .seconds(30)) }
                return true
            } catch {
                if Task.isCancelled || Task.isShuttingDownGracefully { return false }
                logger.warning("waiting for the broker", metadata: ["error": "\(error)"])
            }
        }
        return false
    }

    /// The reason the broker side is not ready, or nil when it is.
    public static func readiness(of connection: AMQPConnection) -> String? {
        switch connection.status {
        case .ready: return nil
        case .blocked(let reason): return "broker blocked publishing (\(reason))"
        case .connecting: return "connecting to the broker"
        case .disconnected(let reason): return "broker connection lost: \(reason)"
        case .closed: return "broker connection closed"
        }
    }
}
