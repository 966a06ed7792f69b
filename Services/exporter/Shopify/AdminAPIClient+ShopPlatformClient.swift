import ExporterCore

/// Shopify as the exporter's shop platform: the writer's calls mapped onto the Admin GraphQL calls, and Shopify's
/// idempotency answers sorted into the platform's write outcomes.
extension AdminAPIClient: ShopPlatformClient {
    /// Shopify's user error when an earlier attempt with the same idempotency key is still running.
    static let idempotencyConcurrentCode = "IDEMPOTENCY_CONCURRENT_REQUEST"
    /// Shopify's user error when an earlier attempt with the same idempotency key failed: it asks for a new key.
    static let idempotencyPreviousAttemptFailedCode = "IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED"

    /// Shopify's user error when the shop held another quantity than `changeFromQuantity`.
    static let staleCode = "CHANGE_FROM_QUANTITY_STALE"
    /// Shopify's user error for a bundle parent, whose stock it computes from its components.
    static let nonMutableCode = "NON_MUTABLE_INVENTORY_ITEM"

    func write(
        _ quantities: [Quantity], reason: String, reference: String, idempotencyKey: String
    ) async throws -> (ShopPlatform.WriteOutcome, CostReport?) {
        let (errors, report) = try await setQuantities(
            quantities, reason: reason, referenceDocumentUri: reference, idempotencyKey: idempotencyKey)
        return (Self.outcome(errors), report)
    }

    /// What the user errors of an `inventorySetQuantities` answer mean for its idempotency key.
    static func outcome(_ errors: [UserError]) -> ShopPlatform.WriteOutcome {
        if errors.contains(where: { $0.code == idempotencyConcurrentCode }) { return .attemptInProgress }
        if errors.contains(where: { $0.code == idempotencyPreviousAttemptFailedCode }) { return .attemptFailed }
        return .answered(errors)
    }

    /// What an `inventorySetQuantities` user error's code means for the write.
    static func kind(of code: String?) -> ShopPlatform.UserError.Kind {
        if code == staleCode { return .stale }
        if code == nonMutableCode { return .notWritable }
        return .other
    }
}
