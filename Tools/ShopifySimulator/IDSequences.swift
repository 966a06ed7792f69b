/// Id counters shared by all shops (Shopify ids are global). Orders, line items, refunds and inventory items
/// start above 2^53, so a consumer that routes ids through `Double` breaks visibly.
struct IDSequences: Sendable {
    var product: Int64 = 8_000_000_000_001
    var variant: Int64 = 44_000_000_000_001
    var inventoryItem: Int64 = 9_007_199_284_740_993
    var order: Int64 = 9_007_199_254_740_993
    var lineItem: Int64 = 9_007_199_264_740_993
    var refund: Int64 = 9_007_199_274_740_993
    var refundLineItem: Int64 = 9_007_199_294_740_993

    static func take(_ counter: inout Int64) -> Int64 {
        defer { counter += 1 }
        return counter
    }
}
