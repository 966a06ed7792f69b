import Foundation

/// What the pipeline did for the webhooks of a load, counted where it happens (issue #19: cut what does not need to
/// exist). Each figure is a difference between two snapshots, taken before the load and once the system is quiet.
public struct PipelineCounts: Codable, Equatable, Sendable {
    /// Messages clients published into the run's exchanges (RabbitMQ management, `message_stats.publish`).
    public var brokerPublished = 0
    /// Messages routed into queues, all queues together: a message routed to N queues is N copies written.
    public var queueCopies = 0
    /// Deliveries acknowledged by consumers, all queues together.
    public var deliveriesAcked = 0
    /// Statements the calculators sent PostgreSQL (BEGIN, COMMIT and prepares included), and the round trips they
    /// took (a pipeline sends several statements in one).
    public var sqlStatements = 0
    public var sqlRoundTrips = 0
    /// Transactions committed or rolled back in the run's database (`pg_stat_database`).
    public var sqlTransactions = 0
    /// Admin API calls of the exporters, and of those the reads (lookups, level reads, locations).
    public var adminCalls = 0
    public var shopReads = 0

    /// Creates the counts (all zero unless given).
    public init(
        brokerPublished: Int = 0, queueCopies: Int = 0, deliveriesAcked: Int = 0, sqlStatements: Int = 0,
        sqlRoundTrips: Int = 0, sqlTransactions: Int = 0, adminCalls: Int = 0, shopReads: Int = 0
    ) {
        self.brokerPublished = brokerPublished
        self.queueCopies = queueCopies
        self.deliveriesAcked = deliveriesAcked
        self.sqlStatements = sqlStatements
        self.sqlRoundTrips = sqlRoundTrips
        self.sqlTransactions = sqlTransactions
        self.adminCalls = adminCalls
        self.shopReads = shopReads
    }

    /// Each figure divided by `webhooks` (the accepted webhooks of the load).
    public func perWebhook(_ webhooks: Int) -> [String: Double] {
        let n = Double(max(1, webhooks))
        return [
            "broker messages published": Double(brokerPublished) / n, "queue copies written": Double(queueCopies) / n,
            "deliveries acked": Double(deliveriesAcked) / n, "SQL statements": Double(sqlStatements) / n,
            "SQL round trips": Double(sqlRoundTrips) / n,
            "SQL transactions": Double(sqlTransactions) / n, "Admin API calls": Double(adminCalls) / n,
            "shop reads": Double(shopReads) / n,
        ]
    }

    public static func - (a: PipelineCounts, b: PipelineCounts) -> PipelineCounts {
        PipelineCounts(
            brokerPublished: a.brokerPublished - b.brokerPublished, queueCopies: a.queueCopies - b.queueCopies,
            deliveriesAcked: a.deliveriesAcked - b.deliveriesAcked, sqlStatements: a.sqlStatements - b.sqlStatements,
            sqlRoundTrips: a.sqlRoundTrips - b.sqlRoundTrips,
            sqlTransactions: a.sqlTransactions - b.sqlTransactions, adminCalls: a.adminCalls - b.adminCalls,
            shopReads: a.shopReads - b.shopReads)
    }
}
