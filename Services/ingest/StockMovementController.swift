import Contracts
import Foundation
import Hummingbird
import Logging
import Signing

/// `POST /stock-movements`: the warehouse's movements, one object or an array (a whole stocktake), each published as
/// `warehouse.<kind>` with `message_id` `warehouse/<movement_id>`; 202 once the broker confirmed all of them.
///
/// The bearer token is compared in constant time. Validation is strict (``StockMovement/parse(_:)``): a 400 names
/// the field and the rule, and nothing of a request with one bad movement is published.
struct StockMovementController: Sendable {
    let token: [UInt8]?
    let maxBodyBytes: Int
    let readTimeout: Duration
    let budget: BodyBudget
    let publisher: EventPublisher

    /// What an accepted or refused request looked like, for metrics and logs.
    struct Outcome {
        var topic = "unverified"
        var accepted = 0
        var metadata: Logger.Metadata = [:]
    }

    func handle(_ request: Request, outcome: inout Outcome) async throws(IngestRejection) {
        if let declared = request.declaredContentLength, declared > maxBodyBytes { throw .tooLarge(limit: maxBodyBytes) }
        if let unsupported = request.unsupportedMediaType { throw unsupported }
        guard let token, let given = Self.bearerToken(request.headers[.authorization]),
            constantTimeEquals(Array(given.utf8), token)
        else {
            throw .unauthorized("bad_token", "missing or wrong bearer token")
        }
        outcome.topic = "warehouse"
        let lease = BodyLease(budget)
        defer { lease.end() }
        let body = try await request.collectBody(limit: maxBodyBytes, readTimeout: readTimeout, lease: lease)
        let movements: [StockMovement]
        do {
            movements = try StockMovement.parse(body)
        } catch let error as ContractError {
            throw .badRequest("invalid_movement", error.message)
        } catch {
            throw .badRequest("invalid_movement", "body is not a valid movement")
        }
        let kinds = Set(movements.map(\.kind.rawValue))
        if kinds.count == 1, let kind = kinds.first { outcome.topic = "warehouse.\(kind)" }
        outcome.metadata["movements"] = "\(movements.count)"
        if movements.count == 1 { outcome.metadata["movement_id"] = "\(movements[0].movementId)" }
        let received = Int64(Date().timeIntervalSince1970 * 1000)
        let envelopes = movements.map { m in
            EventEnvelope(
                source: .warehouse, shop: nil, topic: m.kind.rawValue, deliveryId: m.movementId,
                receivedAtMillis: received, body: m.json())
        }
        do throws(PublishFailure) {
            try await publisher.publishAll(envelopes)
        } catch {
            outcome.metadata["error"] = "\(error.detail)"
            throw .unavailable(error)
        }
        outcome.accepted = movements.count
    }

    /// The token of `Authorization: Bearer <token>` (scheme case-insensitive).
    static func bearerToken(_ header: String?) -> String? {
        guard let header else { return nil }
        let parts = header.trimmingCharacters(in: .whitespaces).split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token
    }
}
