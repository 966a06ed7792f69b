import Hummingbird
import Logging

/// The operations endpoints every service serves: `/healthz` (the process is up), `/readyz` (it can do its
/// work: broker connected, topology declared, …) and `/metrics` (Prometheus).
public enum OpsServer {
    /// Adds the three endpoints to `router`; `readiness` returns nil when ready, else the reason it is not.
    public static func addRoutes<Context: RequestContext>(
        to router: Router<Context>, readiness: @escaping @Sendable () async -> String?
    ) {
        router.get("/healthz") { _, _ in "ok\n" }
        router.get("/readyz") { _, _ -> Response in
            if let reason = await readiness() {
                return Response(
                    status: .serviceUnavailable, headers: [.contentType: "text/plain; charset=utf-8"],
                    body: .init(byteBuffer: ByteBuffer(string: "not ready: \(reason)\n")))
            }
            return Response(
                status: .ok, headers: [.contentType: "text/plain; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: "ready\n")))
        }
        router.get("/metrics") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: Observability.prometheusText())))
        }
    }

    /// A stand-alone HTTP server with the operations endpoints and the service's own `routes` (e.g. the
    /// calculator's `/explain/<sku>`).
    public static func application(
        host: String, port: Int, logger: Logger, routes: (Router<BasicRequestContext>) -> Void = { _ in },
        readiness: @escaping @Sendable () async -> String?
    ) -> some ApplicationProtocol {
        let router = Router()
        addRoutes(to: router, readiness: readiness)
        routes(router)
        return Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: "stockwire"),
            logger: logger)
    }
}
