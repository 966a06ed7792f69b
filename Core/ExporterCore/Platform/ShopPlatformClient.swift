/// The outbound side of a shop platform: the calls a shop writer makes to one shop. Shopify's Admin API client
/// (`Services/exporter/Shopify`) is one; another shop system or a marketplace is another folder conforming to this.
///
/// A call that produces no data throws a ``ShopPlatform/Failure``, which ``ShopCallPolicy`` turns into what to do
/// next (wait for the bucket, back off, pause the shop); any other error is the caller's to judge.
package protocol ShopPlatformClient: Sendable {
    /// Compare-and-set write of `quantities` under `idempotencyKey` (the same key on every resend of one write):
    /// `reason` and `reference` are recorded with the change in the shop.
    func write(
        _ quantities: [ShopPlatform.Quantity], reason: String, reference: String, idempotencyKey: String
    ) async throws -> (ShopPlatform.WriteOutcome, ShopPlatform.CostReport?)

    /// The level of each of `items` at `locationId` (items not stocked there are absent).
    func levels(items: [String], locationId: String) async throws -> ([String: Int64], ShopPlatform.CostReport?)

    /// The variants whose SKU is exactly `sku`, with the inventory items they are counted by.
    func variants(sku: String) async throws -> ([ShopPlatform.Variant], ShopPlatform.CostReport?)

    /// The shop's locations.
    func locations() async throws -> [ShopPlatform.Location]
}
