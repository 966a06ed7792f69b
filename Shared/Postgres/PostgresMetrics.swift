import Metrics

/// What every connection of the process costs the server, for the process's `/metrics` (a service that bootstrapped
/// a metrics backend; otherwise nothing is recorded).
enum PostgresMetrics {
    /// Server round trips (`PQexec`, `PQexecParams`, `PQprepare`, `PQexecPrepared`, a pipeline), `BEGIN` and
    /// `COMMIT` included: the figure to drive down per event.
    static let roundTrips = Counter(label: "stockwire_postgres_round_trips_total")
    /// Statements sent, prepares included: one per round trip, except in a pipeline, which sends several in one.
    static let statements = Counter(label: "stockwire_postgres_statements_total")
}
