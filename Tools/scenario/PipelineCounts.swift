import AMQP
import Foundation
import Postgres
import ShopifySimulator

/// What the pipeline did for the webhooks of a load, counted where it happens (issue #19: cut what does not need to
/// exist). Each figure is a difference between two snapshots, taken before the load and once the system is quiet.
struct PipelineCounts: Codable, Equatable {
    /// Messages clients published into the run's exchanges (RabbitMQ management, `message_stats.publish`).
    var brokerPublished = 0
    /// Messages routed into queues, all queues together: a message routed to N queues is N copies written.
    var queueCopies = 0
    /// Deliveries acknowledged by consumers, all queues together.
    var deliveriesAcked = 0
    /// Statements the calculators sent PostgreSQL (BEGIN, COMMIT and prepares included), and the round trips they
    /// took (a pipeline sends several statements in one).
    var sqlStatements = 0
    var sqlRoundTrips = 0
    /// Transactions committed or rolled back in the run's database (`pg_stat_database`).
    var sqlTransactions = 0
    /// Admin API calls of the exporters, and of those the reads (lookups, level reads, locations).
    var adminCalls = 0
    var shopReads = 0

    /// Each figure divided by `webhooks` (the accepted webhooks of the load).
    func perWebhook(_ webhooks: Int) -> [String: Double] {
        let n = Double(max(1, webhooks))
        return [
            "broker messages published": Double(brokerPublished) / n, "queue copies written": Double(queueCopies) / n,
            "deliveries acked": Double(deliveriesAcked) / n, "SQL statements": Double(sqlStatements) / n,
            "SQL round trips": Double(sqlRoundTrips) / n,
            "SQL transactions": Double(sqlTransactions) / n, "Admin API calls": Double(adminCalls) / n,
            "shop reads": Double(shopReads) / n,
        ]
    }

    static func - (a: PipelineCounts, b: PipelineCounts) -> PipelineCounts {
        PipelineCounts(
            brokerPublished: a.brokerPublished - b.brokerPublished, queueCopies: a.queueCopies - b.queueCopies,
            deliveriesAcked: a.deliveriesAcked - b.deliveriesAcked, sqlStatements: a.sqlStatements - b.sqlStatements,
            sqlRoundTrips: a.sqlRoundTrips - b.sqlRoundTrips,
            sqlTransactions: a.sqlTransactions - b.sqlTransactions, adminCalls: a.adminCalls - b.adminCalls,
            shopReads: a.shopReads - b.shopReads)
    }

    /// The counts so far. The management API's figures lag by up to 5 s: take the second snapshot once quiet.
    static func take(_ stack: Stack, sim: Simulator) async -> PipelineCounts {
        var c = PipelineCounts()
        let admin = BrokerAdmin.local()
        if let vhost = try? AMQPConfiguration(url: stack.amqpURL).virtualHost {
            c.brokerPublished = (try? await admin.published(virtualHost: vhost)) ?? 0
            let queues = (try? await admin.queues(virtualHost: vhost)) ?? []
            c.queueCopies = queues.reduce(0) { $0 + $1.published }
            c.deliveriesAcked = queues.reduce(0) { $0 + $1.acknowledged }
        }
        for i in 1...max(1, stack.options.instances) {
            let page = await stack.metrics(stack.calculatorOpsURL(instance: i))
            let roundTrips = Int(BlackFriday.counter(page, "stockwire_postgres_round_trips_total"))
            c.sqlRoundTrips += roundTrips
            // A calculator from before the statements counter: one statement per round trip.
            let statements = BlackFriday.counter(page, "stockwire_postgres_statements_total")
            c.sqlStatements += statements > 0 ? Int(statements) : roundTrips
        }
        if let db = try? await PostgresConnection.connect(stack.conninfo) {
            let rows = try? await db.query(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()")
            c.sqlTransactions = rows?.rows.first?[0].flatMap { Int($0) } ?? 0
            await db.close()
        }
        for shop in stack.domains {
            for e in await sim.writeLog(shop: shop) {
                c.adminCalls += 1
                if !e.operation.hasPrefix("inventorySetQuantities") { c.shopReads += 1 }
            }
        }
        return c
    }
}
