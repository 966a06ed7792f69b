/// The Shopify webhook topics Stockwire reads: subscribe every shop to these, and to no others.
///
/// Every other topic still costs ingest (verify, publish), the broker (a quorum queue and the event-log stream) and
/// the calculator (dedupe, decode) before it is ignored. `inventory_levels/update` above all: Shopify fires it for
/// every level Stockwire writes, in every shop, and the truth never needs it (the exporter learns a shop's level from
/// its compare-and-set answers and read-backs). In the black-friday scenario with 4 shops it was 58 % of all webhooks
/// (BENCHMARKS.md).
public enum ShopifyWebhookTopics {
    /// Orders (snapshots, the newest `updated_at` wins), refunds (restocks), products (the SKU ↔ item catalog).
    public static let used: [String] = [
        "orders/create", "orders/updated", "orders/edited", "orders/cancelled", "refunds/create", "products/create",
        "products/update",
    ]
}
