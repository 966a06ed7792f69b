import AMQP
import Foundation
import Postgres
import ScenarioReports
import ShopifySimulator

extension PipelineCounts {
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
