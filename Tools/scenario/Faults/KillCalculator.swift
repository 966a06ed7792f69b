import Foundation
import Postgres

/// The `kill-calculator` fault.
struct KillCalculator: FaultDefinition {
    let summary = """
        SIGKILL the calculator repeatedly mid-batch; every second restart also dies right after its first commit, \
        before it publishes (STOCKWIRE_CALCULATOR_CRASH_AFTER_COMMIT).
        """

    /// SIGKILL mid-batch (once PostgreSQL shows the batch transaction open), restart; every second time the
    /// restarted instance also dies right after its first commit, before publishing (the outbox must cover it), and
    /// is restarted once more.
    func inject(_ c: BlackFriday.LoadContext, _ injector: FaultInjector) async throws {
        for i in 0..<injector.settings.kills {
            try await injector.at(c, injector.killTime(i))
            try await Self.once(injector, crashAfterCommit: i % 2 == 1)
        }
    }

    /// One kill mid-batch and the restart (the soak's too); with `crashAfterCommit`, the restarted calculator dies
    /// right after its first commit and is started once more.
    static func once(_ injector: FaultInjector, crashAfterCommit: Bool) async throws {
        let db = try await PostgresConnection.connect(injector.stack.conninfo)
        defer { Task { await db.close() } }
        do {
            let applied = BlackFriday.counter(
                await injector.stack.metrics(injector.stack.calculatorOpsURL), "stockwire_calculator_events_applied_total")
            // A batch is in its transaction while the calculator's connection is inside one (between statements:
            // `idle in transaction`) or runs the batch's first statement.
            let deadline = ContinuousClock.now + .seconds(3)
            var inBatch = false
            while !inBatch, ContinuousClock.now < deadline {
                let rows = try await db.query(
                    """
                    SELECT count(*)::bigint FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
                    AND (state = 'idle in transaction' OR (state = 'active' AND query LIKE 'INSERT INTO processed_messages%'))
                    """, [])
                inBatch = try rows.first?.decode(Int.self, at: 0) ?? 0 > 0
            }
            try await injector.stack.kill9(.calculator)
            await injector.note(
                "SIGKILL calculator \(inBatch ? "inside a batch transaction" : "(no batch transaction seen within 3 s)") "
                    + "(\(Int(applied)) events applied by this instance)")
            if crashAfterCommit {
                try await injector.restart(.calculator, extra: ["STOCKWIRE_CALCULATOR_CRASH_AFTER_COMMIT": "1"], waitReady: false)
                if try await injector.stack.waitExit(.calculator, timeout: .seconds(20)) {
                    await injector.note("calculator killed itself right after its first commit, before publishing")
                } else {
                    try await injector.stack.kill9(.calculator)
                    await injector.note("no batch committed within 20 s of the restart: SIGKILL")
                }
            }
            try await injector.restart(.calculator)
            await injector.note("calculator restarted and ready")
        }
    }
}
