import AsyncHTTPClient
import Foundation
import NIOCore
import Signing

/// Sends webhooks (signed with the shop's secret, Shopify's headers) and movements the way their senders retry
/// them, and records each id and answer in the injection log.
struct InjectedSender: Sendable {
    let ingestURL: String
    let movementToken: String
    let secrets: [String: String]
    let log: InjectionLog

    /// A sender to the stack's ingest, with every shop's webhook secret and the warehouse's token.
    init(stack: Stack, log: InjectionLog) throws {
        var secrets: [String: String] = [:]
        for shop in stack.domains { secrets[shop] = try stack.webhookSecret(shop: shop) }
        ingestURL = stack.ingestURL
        movementToken = stack.movementToken
        self.secrets = secrets
        self.log = log
    }

    /// A webhook body as Shopify sends it (the REST resource).
    static func json(_ value: some Encodable) throws -> Data { try JSONEncoder().encode(value) }

    /// `X-Shopify-Triggered-At` as Shopify writes it (UTC, milliseconds).
    private func stamp(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: date)
    }

    /// One webhook id twice (a retry), then a second id with the same event id (a duplicate).
    func threeTimes(shop: String, topic: String, body: Data, triggeredAt: Date) async {
        let event = UUID().uuidString.lowercased()
        let first = UUID().uuidString.lowercased()
        for id in [first, first, UUID().uuidString.lowercased()] {
            await webhook(shop: shop, topic: topic, body: body, webhookId: id, eventId: event, triggeredAt: stamp(triggeredAt))
        }
    }

    func once(shop: String, topic: String, body: Data, triggeredAt: Date) async {
        await webhook(
            shop: shop, topic: topic, body: body, webhookId: UUID().uuidString.lowercased(),
            eventId: UUID().uuidString.lowercased(),
            triggeredAt: stamp(triggeredAt))
    }

    func twiceOneId(shop: String, topic: String, body: Data, triggeredAt: Date) async {
        let id = UUID().uuidString.lowercased()
        let event = UUID().uuidString.lowercased()
        for _ in 0..<2 {
            await webhook(shop: shop, topic: topic, body: body, webhookId: id, eventId: event, triggeredAt: stamp(triggeredAt))
        }
    }

    /// One delivery; its answer's status (nil: no answer) and how long it took.
    func timed(shop: String, topic: String, body: Data, triggeredAt: Date) async -> (status: Int?, seconds: Double) {
        let started = Date()
        let status = await webhook(
            shop: shop, topic: topic, body: body, webhookId: UUID().uuidString.lowercased(),
            eventId: UUID().uuidString.lowercased(),
            triggeredAt: stamp(triggeredAt))
        return (status, Date().timeIntervalSince(started))
    }

    @discardableResult
    private func webhook(shop: String, topic: String, body: Data, webhookId: String, eventId: String, triggeredAt: String) async
        -> Int?
    {
        let bytes = [UInt8](body)
        var request = HTTPClientRequest(url: "\(ingestURL)/webhooks/shopify")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "X-Shopify-Topic", value: topic)
        request.headers.add(
            name: "X-Shopify-Hmac-Sha256", value: WebhookSignature.sign(body: bytes, secret: Array((secrets[shop] ?? "").utf8)))
        request.headers.add(name: "X-Shopify-Shop-Domain", value: shop)
        request.headers.add(name: "X-Shopify-API-Version", value: "2026-10")
        request.headers.add(name: "X-Shopify-Webhook-Id", value: webhookId)
        request.headers.add(name: "X-Shopify-Event-Id", value: eventId)
        request.headers.add(name: "X-Shopify-Triggered-At", value: triggeredAt)
        request.body = .bytes(ByteBuffer(bytes: bytes))
        var status: Int?
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
            _ = try? await response.body.collect(upTo: 64 * 1024)
            status = Int(response.status.code)
        } catch {}
        await log.record("\(shop)/\(webhookId)", accepted: status.map { (200..<300).contains($0) } ?? false)
        return status
    }

    /// Posts a movement again, with its id.
    func post(_ movement: Movement) async {
        guard let body = try? JSONEncoder().encode(movement) else { return }
        let status = try? await HTTP.post("\(ingestURL)/stock-movements", json: [UInt8](body), bearer: movementToken).0
        await log.record("warehouse/\(movement.movementId)", accepted: status.map { (200..<300).contains($0) } ?? false)
    }
}
