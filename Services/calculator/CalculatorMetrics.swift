import Metrics

/// The calculator's metrics, named `stockwire_calculator_<what>_<unit>`.
struct CalculatorMetrics: Sendable {
    let applied = Counter(label: "stockwire_calculator_events_applied_total")
    let stale = Counter(label: "stockwire_calculator_events_stale_total")
    let duplicates = Counter(label: "stockwire_calculator_events_duplicate_total")
    let ignored = Counter(label: "stockwire_calculator_events_ignored_total")
    let deadLettered = Counter(label: "stockwire_calculator_events_dead_lettered_total")
    let linesWithoutSku = Counter(label: "stockwire_calculator_order_lines_without_sku_total")
    /// Custom order lines (no product or variant), which reserve no warehouse stock.
    let customLines = Counter(label: "stockwire_calculator_order_custom_lines_total")
    let published = Counter(label: "stockwire_calculator_messages_published_total")
    let publishFailures = Counter(label: "stockwire_calculator_publish_failures_total")
    let retries = Counter(label: "stockwire_calculator_transaction_retries_total")
    let batchSize = Recorder(label: "stockwire_calculator_batch_size_events")
    let batchDuration = Metrics.Timer(label: "stockwire_calculator_batch_duration_seconds")
    /// Now minus when ingest received the oldest event of the last batch.
    let lag = Gauge(label: "stockwire_calculator_lag_seconds")
}
