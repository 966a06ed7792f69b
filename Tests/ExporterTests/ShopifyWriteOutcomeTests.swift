import ExporterCore
import Testing

@testable import exporter

/// Shopify behind the platform seam (issue #20): its `inventorySetQuantities` user error codes read into what they
/// mean for a write, without a shop.
@Suite struct ShopifyWriteOutcomeTests {
    func error(_ code: String?, kind: ShopPlatform.UserError.Kind = .other) -> ShopPlatform.UserError {
        ShopPlatform.UserError(code: code, field: ["input", "quantities", "0"], message: "m", kind: kind)
    }

    @Test func userErrorCodesAreReadIntoKinds() {
        #expect(AdminAPIClient.kind(of: "CHANGE_FROM_QUANTITY_STALE") == .stale)
        #expect(AdminAPIClient.kind(of: "NON_MUTABLE_INVENTORY_ITEM") == .notWritable)
        #expect(AdminAPIClient.kind(of: "INVALID_QUANTITY_NEGATIVE") == .other)
        #expect(AdminAPIClient.kind(of: nil) == .other)
    }

    @Test func idempotencyCodesAreReadIntoWriteOutcomes() {
        #expect(AdminAPIClient.outcome([]) == .answered([]))
        let stale = error("CHANGE_FROM_QUANTITY_STALE", kind: .stale)
        #expect(AdminAPIClient.outcome([stale]) == .answered([stale]))
        #expect(AdminAPIClient.outcome([error("IDEMPOTENCY_CONCURRENT_REQUEST")]) == .attemptInProgress)
        #expect(AdminAPIClient.outcome([error("IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED")]) == .attemptFailed)
        // A key still in use is waited for before a failed one is replaced, as the writer always did.
        #expect(
            AdminAPIClient.outcome([error("IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED"), error("IDEMPOTENCY_CONCURRENT_REQUEST")])
                == .attemptInProgress)
    }
}
