import Foundation
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// A tiny webhook receiver for tests: records every POST (headers and raw body) and answers with scripted
/// statuses, then 200.
public final class WebhookRecorder: Sendable {
    /// One received request.
    public struct Delivery: Sendable {
        /// Header values by lower-cased name.
        public var headers: [String: String]
        /// The raw body bytes.
        public var body: [UInt8]
        /// The body parsed as JSON (`.null` when it is not JSON).
        public var json: JSONValue { (try? JSONValue.parse(body)) ?? .null }
        /// A header by name (any case).
        public func header(_ name: String) -> String? { headers[name.lowercased()] }
    }

    private struct State {
        var deliveries: [Delivery] = []
        var script: [Int] = []
        var delay: Duration = .zero
    }

    /// The port the receiver listens on.
    public let port: Int
    private let state: Mutex<State>
    private let task: Task<Void, Never>

    private init(port: Int, task: Task<Void, Never>) {
        self.port = port
        self.state = Mutex(State())
        self.task = task
    }

    /// `http://127.0.0.1:<port>/webhooks`.
    public var url: String { "http://127.0.0.1:\(port)/webhooks" }

    /// Starts a receiver on a free loopback port.
    public static func start() async throws -> WebhookRecorder {
        let shared = SharedState()
        let router = Router()
        router.post("/webhooks") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 16 << 20)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName.lowercased()] = field.value }
            let (status, delay) = shared.record(Delivery(headers: headers, body: Array(body.readableBytesView)))
            if delay > .zero { try? await Task.sleep(for: delay) }
            return Response(status: HTTPResponse.Status(code: status))
        }
        let signal = StartupSignal()
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in signal.succeed(channel.localAddress?.port ?? 0) },
            logger: Logger(label: "webhook-recorder", factory: { _ in SwiftLogNoOpLogHandler() }))
        let task = Task {
            do { try await app.run() } catch { signal.fail(error) }
            signal.fail(SimulatorError(.startup, "webhook recorder stopped before it started"))
        }
        let port = try await signal.value()
        let recorder = WebhookRecorder(port: port, task: task)
        shared.attach(recorder)
        return recorder
    }

    /// Answers the next requests with `statuses` in turn (then 200 again).
    public func respond(with statuses: [Int]) { state.withLock { $0.script.append(contentsOf: statuses) } }

    /// Waits `delay` before answering each request (to provoke the 5 s timeout).
    public func setDelay(_ delay: Duration) { state.withLock { $0.delay = delay } }

    /// Everything received so far, in arrival order.
    public var deliveries: [Delivery] { state.withLock { $0.deliveries } }

    /// Waits until at least `count` requests matching `filter` arrived; returns them (or what arrived by `timeout`).
    public func wait(
        for count: Int, timeout: Duration = .seconds(10), where filter: @Sendable (Delivery) -> Bool = { _ in true }
    ) async -> [Delivery] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let matching = deliveries.filter(filter)
            if matching.count >= count || ContinuousClock.now >= deadline { return matching }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Stops the receiver.
    public func shutdown() async {
        task.cancel()
        await task.value
    }

    fileprivate func record(_ delivery: Delivery) -> (Int, Duration) {
        state.withLock { s in
            s.deliveries.append(delivery)
            let status = s.script.isEmpty ? 200 : s.script.removeFirst()
            return (status, s.delay)
        }
    }

    /// Lets the route handler, built before the recorder exists, reach it.
    private final class SharedState: Sendable {
        private let recorder = Mutex<WebhookRecorder?>(nil)
        func attach(_ r: WebhookRecorder) { recorder.withLock { $0 = r } }
        func record(_ d: Delivery) -> (Int, Duration) { recorder.withLock { $0 }?.record(d) ?? (503, .zero) }
    }
}
