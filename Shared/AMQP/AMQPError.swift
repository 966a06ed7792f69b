/// An error of the AMQP client, with a stable code for callers and a human message naming the thing and the fix.
public struct AMQPError: Error, Sendable, CustomStringConvertible, Equatable {
    /// Stable error codes: callers branch on these, never on the message.
    public enum Code: String, Sendable, Equatable {
        /// The TCP connection or the AMQP handshake failed.
        case connectionFailed
        /// The connection was lost while the operation was in flight; the outcome is unknown, so retry.
        case connectionLost
        /// There is no connection to the broker right now (reconnecting).
        case notConnected
        /// The broker has blocked publishing (memory or disk alarm).
        case blocked
        /// The broker answered basic.nack: it did not take responsibility for the message.
        case nacked
        /// A mandatory message could not be routed to any queue (basic.return).
        case unroutable
        /// No confirm arrived within the deadline; the message may or may not be in the broker.
        case confirmTimeout
        /// The broker closed a channel because of an error in an operation (e.g. a declare with other arguments).
        case channelClosed
        /// The connection is closed for good (shut down by its owner).
        case closed
        /// The caller passed something the client cannot send.
        case invalidArgument
    }

    /// What went wrong, stable.
    public let code: Code
    /// A human explanation.
    public let message: String
    /// The AMQP reply code of a broker-side close (e.g. 404, 406), if any.
    public let replyCode: UInt16?

    /// Creates an error.
    public init(_ code: Code, _ message: String, replyCode: UInt16? = nil) {
        self.code = code
        self.message = message
        self.replyCode = replyCode
    }

    public var description: String {
        if let replyCode { return "AMQP \(code.rawValue) (\(replyCode)): \(message)" }
        return "AMQP \(code.rawValue): \(message)"
    }
}
