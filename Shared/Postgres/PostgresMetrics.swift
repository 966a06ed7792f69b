import Metrics

/// What every connection of the process costs the server, for the process's `/metrics` (a service that bootstrapped
/// a metrics backend; otherwise nothing is recorded).
enum PostgresMetrics {
    /// Statements sent and answered, one per server round trip (`PQexec`, `PQexecParams`, `PQprepare`,
    /// `PQexecPrepared`), `BEGIN` and `COMMIT` included: the figure to drive down per event.
    static let roundTrips = Counter(label: "stockwire_postgres_round_trips_total")
}
