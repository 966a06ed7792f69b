import Foundation

/// The RabbitMQ and PostgreSQL the tools use unless told otherwise: the environment's, else deploy/local's on
/// loopback.
public enum LocalServers {
    /// `$STOCKWIRE_AMQP_URL`, else deploy/local's RabbitMQ (`amqp://guest:guest@127.0.0.1:5672/`).
    public static var amqpURL: String {
        ProcessInfo.processInfo.environment["STOCKWIRE_AMQP_URL"] ?? "amqp://guest:guest@127.0.0.1:5672/"
    }

    /// `$STOCKWIRE_POSTGRES`, else deploy/local's PostgreSQL (`host=127.0.0.1 port=5432 user=stockwire …`).
    public static var postgresConninfo: String {
        ProcessInfo.processInfo.environment["STOCKWIRE_POSTGRES"]
            ?? "host=127.0.0.1 port=5432 user=stockwire password=stockwire dbname=stockwire"
    }
}
