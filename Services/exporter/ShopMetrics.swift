import Metrics

/// The metrics of one shop's writer.
struct ShopMetrics: Sendable {
    let writes: Counter
    let quantities: Counter
    let coalesced: Counter
    let throttledWaits: Counter
    let stale: Counter
    let staleSplits: Counter
    let skipped: Counter
    let lookups: Counter
    let catalogUpdates: Counter
    let deadLettered: Counter
    let resyncs: Counter
    let driftRepaired: Counter
    let verifications: Counter
    let verifyRepaired: Counter
    let ambiguousReads: Counter
    /// Level reads Shopify refused as over its single-query cost maximum (read again in halves).
    let costlyReads: Counter
    /// Lookups of a SKU that an earlier lookup had not found (Shopify's search index lags product creation).
    let rechecks: Counter
    let transientFailures: Counter
    /// Write reports published (each gathers the writes of up to ``ShopWriter/Tuning/reportInterval``).
    let reports: Counter
    /// Times the writer lost the shop's queue to a new subscription and dropped what it held (``ShopWriter``).
    let handovers: Counter
    let paused: Gauge
    let endToEnd: Metrics.Timer

    init(shop: String) {
        let d = [("shop", shop)]
        writes = Counter(label: "stockwire_exporter_writes_total", dimensions: d)
        quantities = Counter(label: "stockwire_exporter_quantities_total", dimensions: d)
        coalesced = Counter(label: "stockwire_exporter_coalesced_total", dimensions: d)
        throttledWaits = Counter(label: "stockwire_exporter_throttled_waits_total", dimensions: d)
        stale = Counter(label: "stockwire_exporter_stale_answers_total", dimensions: d)
        staleSplits = Counter(label: "stockwire_exporter_stale_splits_total", dimensions: d)
        skipped = Counter(label: "stockwire_exporter_unmapped_skus_total", dimensions: d)
        lookups = Counter(label: "stockwire_exporter_sku_lookups_total", dimensions: d)
        catalogUpdates = Counter(label: "stockwire_exporter_catalog_updates_total", dimensions: d)
        deadLettered = Counter(label: "stockwire_exporter_dead_lettered_total", dimensions: d)
        resyncs = Counter(label: "stockwire_exporter_resync_messages_total", dimensions: d)
        driftRepaired = Counter(label: "stockwire_exporter_drift_repaired_total", dimensions: d)
        verifications = Counter(label: "stockwire_exporter_read_backs_total", dimensions: d)
        verifyRepaired = Counter(label: "stockwire_exporter_read_back_repairs_total", dimensions: d)
        ambiguousReads = Counter(label: "stockwire_exporter_ambiguous_reads_total", dimensions: d)
        costlyReads = Counter(label: "stockwire_exporter_costly_reads_total", dimensions: d)
        rechecks = Counter(label: "stockwire_exporter_sku_rechecks_total", dimensions: d)
        transientFailures = Counter(label: "stockwire_exporter_transient_failures_total", dimensions: d)
        handovers = Counter(label: "stockwire_exporter_handovers_total", dimensions: d)
        reports = Counter(label: "stockwire_exporter_write_reports_total", dimensions: d)
        paused = Gauge(label: "stockwire_exporter_shop_paused", dimensions: d)
        endToEnd = Metrics.Timer(label: "stockwire_exporter_end_to_end_seconds", dimensions: d)
    }
}
