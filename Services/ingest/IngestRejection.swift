import Hummingbird

/// A request ingest refuses or cannot take now, with the status, a stable reason for metrics and logs, and a message
/// safe to send back (it names the header or field and the rule, never a secret or the body).
struct IngestRejection: Error, Sendable {
    /// The HTTP status to answer.
    let status: HTTPResponse.Status
    /// Stable, low-cardinality reason (`unknown_shop`, `bad_signature`, `too_large`, `broker_blocked`, …).
    let reason: String
    /// What the sender reads.
    let message: String
    /// Close the connection after answering (the rest of an oversized or late body is not read).
    var closeConnection = false

    static func unauthorized(_ reason: String, _ message: String) -> IngestRejection {
        IngestRejection(status: .unauthorized, reason: reason, message: message)
    }

    static func badRequest(_ reason: String, _ message: String) -> IngestRejection {
        IngestRejection(status: .badRequest, reason: reason, message: message)
    }

    static func tooLarge(limit: Int) -> IngestRejection {
        IngestRejection(
            status: .contentTooLarge, reason: "too_large", message: "request body exceeds the limit of \(limit) bytes",
            closeConnection: true)
    }

    /// 415: a body ingest does not read as sent (see ``Request/unsupportedMediaType``). The connection is closed so
    /// that the body, possibly a compression bomb, is never read.
    static func unsupportedMediaType(_ reason: String, _ message: String) -> IngestRejection {
        IngestRejection(status: .unsupportedMediaType, reason: reason, message: message, closeConnection: true)
    }

    /// 503: the bodies ingest holds at once would go over their budget (``BodyBudget``); the sender retries later.
    /// The connection is closed, so the rest of this body is not read.
    static let overBudget = IngestRejection(
        status: .serviceUnavailable, reason: "bodies_over_budget",
        message: "too many large request bodies are being received now; retry later", closeConnection: true)

    static func unavailable(_ failure: PublishFailure) -> IngestRejection {
        IngestRejection(
            status: .serviceUnavailable, reason: failure.reason,
            message: "the event could not be stored now (\(failure.reason)); retry later")
    }
}
