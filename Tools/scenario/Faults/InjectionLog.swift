import Foundation
import ScenarioReports

/// Dead letters a fault run expects: the poison it injected, nothing else.
struct ExpectedDeadLetters: Sendable {
    var calculator: Set<String> = []
    /// Exact message ids per shop.
    var exporter: [String: Set<String>] = [:]
    /// Message-id prefixes per shop (`<sku>/` of a SKU whose every availability message is refused); at least one each.
    var exporterPrefixes: [String: [String]] = [:]
}

/// What the fault injector sent, did and expects, for the checker and the report.
actor InjectionLog {
    /// Message ids the injector sent itself (webhooks it signed, movements it posted again, messages it published).
    private(set) var sent: Set<String> = []
    /// Of those, answered 2xx by ingest.
    private(set) var accepted: Set<String> = []
    private(set) var events: [FaultEvent] = []
    /// The injector could not do what the fault asks (a failure of the run, not of the system).
    private(set) var failures: [String] = []
    /// Restarts per service.
    private(set) var restarts: [String: Int] = [:]
    private(set) var expected = ExpectedDeadLetters()
    private var start = Date()

    func begin(at start: Date) { self.start = start }

    func record(_ id: String, accepted ok: Bool) {
        sent.insert(id)
        if ok { accepted.insert(id) }
    }

    func note(_ what: String) {
        let now = Date()
        let t = now.timeIntervalSince(start)
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        events.append(FaultEvent(t: (t * 100).rounded() / 100, at: f.string(from: now), what: what))
        print(String(format: "• [+%.2f s] ", t) + f.string(from: now) + " " + what)
    }

    func restarted(_ service: Stack.Service) { restarts[service.rawValue, default: 0] += 1 }

    func fail(_ what: String) {
        failures.append(what)
        note("injector failed: \(what)")
    }

    func expectCalculatorDeadLetter(_ id: String) { expected.calculator.insert(id) }
    func expectExporterDeadLetter(shop: String, id: String) { expected.exporter[shop, default: []].insert(id) }
    func expectExporterDeadLetters(shop: String, prefix: String) { expected.exporterPrefixes[shop, default: []].append(prefix) }
}
