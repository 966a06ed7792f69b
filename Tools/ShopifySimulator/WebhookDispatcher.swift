import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import Signing
import Synchronization

/// Delivers webhooks to the ingest URL the way Shopify does: signed POSTs with Shopify's headers, 1 s to
/// connect and 5 s in all, only 2xx counts, up to 8 retries on a (time-scaled) 4-hour schedule with the same
/// webhook id and body. Duplicates, reordering, delay and loss are injected on request.
///
/// ``enqueue(shop:webhooks:now:)`` never waits, so a checkout is never held up by delivery.
final class WebhookDispatcher: Sendable {
    /// Seconds before retry n (1…8) at time scale 1: 8 retries over 4 hours.
    static let retrySchedule: [Double] = [60, 120, 240, 480, 960, 1_920, 3_600, 7_020]

    struct Job: Sendable {
        var shop: String
        var secret: String
        var apiVersion: String
        var topic: String
        var body: [UInt8]
        var webhookID: String
        var eventID: String
        var triggeredAt: String
        var duplicate: Bool
    }

    private struct State {
        var faults = WebhookFaults()
        var log: [WebhookDeliveryRecord] = []
        var pending = 0
        var sequence = 0
    }

    /// Where deliveries go, round-robin (``SimulatorConfiguration/moreIngestURLs``); none: no webhooks.
    private let ingestURLs: [String]
    private let nextIngest = Atomic<Int>(0)
    private let timeScale: Double
    private let client: HTTPClient
    private let limiter: AsyncLimiter
    private let logger: Logger
    private let state = Mutex(State())
    private let jobs: AsyncStream<Job>
    private let continuation: AsyncStream<Job>.Continuation

    init(ingestURLs: [String], timeScale: Double, concurrency: Int, client: HTTPClient, logger: Logger) {
        self.ingestURLs = ingestURLs
        self.timeScale = timeScale
        self.client = client
        self.limiter = AsyncLimiter(permits: concurrency)
        self.logger = logger
        let (stream, continuation) = AsyncStream.makeStream(of: Job.self)
        self.jobs = stream
        self.continuation = continuation
    }

    var faults: WebhookFaults {
        get { state.withLock { $0.faults } }
        set { state.withLock { $0.faults = newValue } }
    }

    /// Deliveries not yet finished (delivered, given up or dropped).
    var pending: Int { state.withLock { $0.pending } }

    func deliveries(since: Int = 0) -> [WebhookDeliveryRecord] {
        state.withLock { s in Array(s.log.drop { $0.sequence <= since }) }
    }

    /// Queues the webhooks of one action that the shop is subscribed to: one event id for all, a new webhook id for
    /// each.
    func enqueue(shop: ShopConfiguration, webhooks: [OutgoingWebhook], now: Date) {
        let webhooks = shop.webhookTopics.map { topics in webhooks.filter { topics.contains($0.topic) } } ?? webhooks
        guard !ingestURLs.isEmpty, !webhooks.isEmpty else { return }
        let eventID = UUID().uuidString.lowercased()
        let triggeredAt = Timestamp.precise(now)
        let duplicateRate = faults.duplicateRate
        for webhook in webhooks {
            var job = Job(
                shop: shop.domain, secret: shop.webhookSecret, apiVersion: shop.webhookAPIVersion, topic: webhook.topic,
                body: webhook.body, webhookID: UUID().uuidString.lowercased(), eventID: eventID, triggeredAt: triggeredAt,
                duplicate: false)
            submit(job)
            if duplicateRate > 0, Double.random(in: 0..<1) < duplicateRate {
                job.webhookID = UUID().uuidString.lowercased()
                job.duplicate = true
                submit(job)
            }
        }
    }

    private func submit(_ job: Job) {
        state.withLock { $0.pending += 1 }
        continuation.yield(job)
    }

    /// Runs deliveries until cancelled.
    func run() async {
        await withDiscardingTaskGroup { group in
            for await job in jobs {
                group.addTask { await self.deliver(job) }
            }
        }
    }

    /// Stops taking new webhooks.
    func finish() { continuation.finish() }

    private func deliver(_ job: Job) async {
        defer { state.withLock { $0.pending -= 1 } }
        let faults = self.faults
        var wait = Double(faults.delayMs) / 1000
        if faults.reorderWindowMs > 0 { wait += Double.random(in: 0...Double(faults.reorderWindowMs)) / 1000 }
        if wait > 0 {
            do { try await Task.sleep(for: .seconds(wait)) } catch { return }
        }
        if faults.dropRate > 0, Double.random(in: 0..<1) < faults.dropRate {
            record(job, attempt: 0, status: nil, outcome: "dropped", error: nil)
            return
        }
        guard !ingestURLs.isEmpty else { return }
        for attempt in 1...(Self.retrySchedule.count + 1) {
            var status: Int? = nil
            var failure: String? = nil
            do {
                try await limiter.acquire()
            } catch {
                return
            }
            // Round-robin; a connection that fails goes to the next instance at once, an answer is final.
            let first = nextIngest.wrappingAdd(1, ordering: .relaxed).oldValue
            for k in 0..<ingestURLs.count {
                do {
                    status = try await post(job, to: ingestURLs[((first & Int.max) + k) % ingestURLs.count])
                    failure = nil
                    break
                } catch {
                    failure = String(describing: error)
                }
            }
            limiter.release()
            if let status, (200..<300).contains(status) {
                record(job, attempt: attempt, status: status, outcome: "delivered", error: nil)
                return
            }
            if attempt > Self.retrySchedule.count {
                record(job, attempt: attempt, status: status, outcome: "gave-up", error: failure)
                logger.warning(
                    "webhook given up after 8 retries", metadata: ["shop": "\(job.shop)", "topic": "\(job.topic)", "webhook_id": "\(job.webhookID)"])
                return
            }
            record(job, attempt: attempt, status: status, outcome: "retrying", error: failure)
            do {
                try await Task.sleep(for: .seconds(Self.retrySchedule[attempt - 1] * timeScale))
            } catch {
                return
            }
        }
    }

    private func post(_ job: Job, to url: String) async throws -> Int {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "X-Shopify-Topic", value: job.topic)
        request.headers.add(name: "X-Shopify-Hmac-Sha256", value: WebhookSignature.sign(body: job.body, secret: Array(job.secret.utf8)))
        request.headers.add(name: "X-Shopify-Shop-Domain", value: job.shop)
        request.headers.add(name: "X-Shopify-API-Version", value: job.apiVersion)
        request.headers.add(name: "X-Shopify-Webhook-Id", value: job.webhookID)
        request.headers.add(name: "X-Shopify-Event-Id", value: job.eventID)
        request.headers.add(name: "X-Shopify-Triggered-At", value: job.triggeredAt)
        request.headers.add(name: "User-Agent", value: "Shopify-Captain-Hook")
        request.body = .bytes(ByteBuffer(bytes: job.body))
        let response = try await client.execute(request, timeout: .seconds(5))
        // Drain (and bound) the body so the connection can be reused.
        _ = try? await response.body.collect(upTo: 64 * 1024)
        return Int(response.status.code)
    }

    private func record(_ job: Job, attempt: Int, status: Int?, outcome: String, error: String?) {
        let time = Timestamp.precise(Date())
        state.withLock { s in
            s.sequence += 1
            s.log.append(
                WebhookDeliveryRecord(
                    sequence: s.sequence, shop: job.shop, topic: job.topic, webhookId: job.webhookID, eventId: job.eventID,
                    attempt: attempt, status: status, outcome: outcome, error: error, duplicate: job.duplicate, time: time))
        }
    }
}

/// Limits how many delivery attempts run at once; waiting is cancellable.
final class AsyncLimiter: Sendable {
    private struct State {
        var permits: Int
        var waiters: [(UInt64, CheckedContinuation<Void, any Error>)] = []
        var cancelled: Set<UInt64> = []
        var nextID: UInt64 = 0
    }

    private let state: Mutex<State>

    init(permits: Int) { state = Mutex(State(permits: permits)) }

    func acquire() async throws {
        let id = state.withLock { s -> UInt64 in
            s.nextID += 1
            return s.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resume: Result<Void, any Error>? = state.withLock { s in
                    if s.cancelled.remove(id) != nil { return .failure(CancellationError()) }
                    if s.permits > 0 {
                        s.permits -= 1
                        return .success(())
                    }
                    s.waiters.append((id, continuation))
                    return nil
                }
                if let resume { continuation.resume(with: resume) }
            }
        } onCancel: {
            let waiter = state.withLock { s -> CheckedContinuation<Void, any Error>? in
                if let i = s.waiters.firstIndex(where: { $0.0 == id }) { return s.waiters.remove(at: i).1 }
                s.cancelled.insert(id)
                return nil
            }
            waiter?.resume(throwing: CancellationError())
        }
        // A cancellation that arrived after the permit was granted leaves a marker; drop it.
        _ = state.withLock { $0.cancelled.remove(id) }
    }

    func release() {
        let next = state.withLock { s -> CheckedContinuation<Void, any Error>? in
            if s.waiters.isEmpty {
                s.permits += 1
                return nil
            }
            return s.waiters.removeFirst().1
        }
        next?.resume()
    }
}
