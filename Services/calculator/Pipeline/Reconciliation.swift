import Logging
import Metrics
import Postgres
import ServiceKit
import ServiceLifecycle

/// Periodic reconciliation (`STOCKWIRE_CALCULATOR_RECONCILE_INTERVAL_S`, every hour by default, 0 = off): every
/// interval, the current availability of every SKU goes to every shop flagged as a reconciliation round
/// (``AvailabilityRepublisher``, ``StockwireTopology/resyncReconcile``).
///
/// Shopify says webhooks can be missed, and a merchant or another app can change a level by hand; event-driven
/// sync alone never notices either, and a shop that drifted stayed wrong for good. Each exporter reads the shop's
/// actual levels (in pages of up to 250 items, within the shop's rate limit) and writes, compare-and-set through
/// the normal write path, only the SKUs that drifted; it logs each repair ("drift repaired", with what the shop
/// had) and counts them in `stockwire_exporter_drift_repaired_total{shop}`. Never against a change in flight: the
/// exporter keeps what its ledger knows (loss the shop showed that no order explains yet is still held back, a
/// write on its way settles first), and it never writes a round older than what it has written. Cost: about one
/// Admin API point per SKU per shop and round (a read of 250 levels costs about 251), so the hourly default costs
/// a shop with 50,000 SKUs about 14 % of a Standard plan's budget, one with 1,000 SKUs 0.3 % (BENCHMARKS.md).
///
/// With several calculator instances, one runs each round: a PostgreSQL advisory lock decides, and the others
/// skip it.
struct Reconciliation: Service {
    let interval: Duration
    let republisher: AvailabilityRepublisher
    let availabilityExchange: String
    let db: PostgresConnection
    let logger: Logger
    /// Any 64-bit number, the same in every instance.
    static let lockId: Int64 = 0x5354_4F43_4B52_4543  // "STOCKREC"

    func run() async throws {
        let rounds = Counter(label: "stockwire_calculator_reconciliation_rounds_total")
        while await waitForNextRound(interval) {
            do {
                guard try await db.query("SELECT pg_try_advisory_lock($1::bigint)", [Self.lockId]).scalar(Bool.self) else {
                    logger.debug("reconciliation round skipped: another calculator runs it")
                    continue
                }
                let result = await Result(catching: {
                    try await republisher.publishAll(to: .exchange(availabilityExchange), reconcile: true)
                })
                _ = try? await db.query("SELECT pg_advisory_unlock($1::bigint)", [Self.lockId])
                let count = try result.get()
                rounds.increment()
                logger.info(
                    "reconciliation: every shop checks its levels against the truth",
                    metadata: ["skus": "\(count)", "next_in": "\(interval)"])
            } catch {
                logger.warning("reconciliation round failed; the next one retries", metadata: ["error": "\(error)"])
            }
        }
    }
}

extension Result where Failure == any Error {
    /// Runs `body`, keeping its value or its error.
    init(catching body: () async throws -> Success) async {
        do {
            self = .success(try await body())
        } catch {
            self = .failure(error)
        }
    }
}
