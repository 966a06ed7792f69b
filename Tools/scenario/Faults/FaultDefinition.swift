import Foundation

/// One fault of the reliability suite (RELIABILITY.md): what `faults --help` says of it, what the run prepares for it,
/// and what it does to the stack while the Black Friday load runs.
///
/// Each fault is a type in a file of its own in this folder; ``Fault/definition`` names them all. What every fault run
/// shares — the load, the injector's clock and tools, the heal afterwards, the checker — is ``FaultRun``'s.
protocol FaultDefinition: Sendable {
    /// What the fault does to the stack and what it checks, one paragraph for `faults --help`.
    var summary: String { get }
    /// The servers it acts on (default: either).
    var servers: FaultServers { get }
    /// How long it keeps its part down unless `--down-seconds` says otherwise (default 0.5 s).
    var defaultDownSeconds: Double { get }
    /// Seconds between kills unless `--kill-every` says otherwise (default 2.5).
    var defaultEvery: Double { get }
    /// Whether ingest answers 503 for a long while: Shopify's 8 retries over about 4 hours are then scaled to
    /// 2 minutes (the default squeezes them into 24 s, which a minute's outage would exhaust). Default false.
    var needsLongRetries: Bool { get }
    /// Webhooks are delayed by a random 0…this many ms unless `--reorder-window-ms` says otherwise (default 50).
    var defaultReorderWindowMs: Int { get }
    /// The server the services reach through a TCP proxy of the run's own, for the fault to cut (default none).
    var proxied: ProxiedServer? { get }

    /// Does the fault to the stack while the load runs, from the load's first event on, and checks what only it can
    /// see (how fast `/readyz` turns red, what ingest answers during an alarm). What it did goes to
    /// ``FaultInjector/note(_:)``, what the system got wrong to ``FaultInjector/fail(_:)``; a thrown error fails the
    /// run too. The injector then brings back any service still down.
    func inject(_ c: BlackFriday.LoadContext, _ injector: FaultInjector) async throws
}

extension FaultDefinition {
    var servers: FaultServers { .either }
    var defaultDownSeconds: Double { 0.5 }
    var defaultEvery: Double { 2.5 }
    var needsLongRetries: Bool { false }
    var defaultReorderWindowMs: Int { 50 }
    var proxied: ProxiedServer? { nil }
}

/// The servers a fault acts on.
enum FaultServers: Sendable {
    /// deploy/local's single servers or the local cluster.
    case either
    /// deploy/local's single servers, or a proxy in front of them (not a cluster's).
    case single
    /// The local cluster (`--broker-nodes 3`): three RabbitMQ nodes, a PostgreSQL standby.
    case cluster
}

/// A server the services reach through a TCP proxy of the fault run's own.
enum ProxiedServer: Sendable {
    /// RabbitMQ: the services' AMQP URL names the proxy.
    case broker
    /// PostgreSQL: the calculator's conninfo names the proxy.
    case database
}
