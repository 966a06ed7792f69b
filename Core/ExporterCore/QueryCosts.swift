/// What the exporter's Admin API calls cost, in Shopify's points: an estimate before each call (to reserve it in the
/// ``CostBucket`` and to keep a query under Shopify's single-query maximum), corrected by what Shopify reports.
///
/// Shopify computes a query's `requestedQueryCost` before running it from the fields selected (scalar and enum 0, object
/// 1, a connection 2 plus `first` times its node's cost, an interface or union the most expensive of its selections, a
/// mutation 10) and refuses a query above 1,000 points as a whole (`MAX_COST_EXCEEDED`); `actualQueryCost`, charged
/// in the end, counts only what was returned (https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits,
/// https://shopify.dev/docs/api/usage/limits). The starting figures follow those rules for the exporter's four
/// documents; every answer's `requestedQueryCost` replaces them, so a cost Shopify changes is followed from the next
/// call on. Guessed low (3 points for a variant lookup, 2 + n/10 for a level read of n items, against 22 and 3n by
/// those rules), the bucket was overdrawn and Shopify throttled every burst of reads.
package struct QueryCosts: Equatable, Sendable {
    package init() {}

    /// The calls the exporter makes.
    package enum Call: String, Sendable, CaseIterable {
        /// `inventorySetQuantities`: a mutation.
        case write
        /// `productVariants(first: 10) { nodes { id sku inventoryItem { id } } }`.
        case variants
        /// `locations(first: 50) { nodes { id name } }`.
        case locations
        /// `nodes(ids:) { ... on InventoryItem { id inventoryLevel { quantities { name quantity } } } }`, per id.
        case levels
    }

    /// Shopify refuses a single query that would cost more (`MAX_COST_EXCEEDED`).
    package static let maximumPerQuery: Double = 1_000

    /// Requested cost of one call; for ``Call/levels``, of one id.
    private var perCall: [Call: Double] = [
        .write: 10,  // a mutation
        .variants: 2 + 10 * 2,  // connection of 10 variants, each with its inventoryItem object
        .locations: 2 + 50 * 1,  // connection of 50 locations
        .levels: 3,  // per id: the InventoryItem, its inventoryLevel, the quantities list
    ]

    /// Points to reserve before a call (`items`: ids of a level read).
    package func estimate(_ call: Call, items: Int = 1) -> Double {
        call == .levels ? perCall[.levels]! * Double(max(1, items)) : perCall[call]!
    }

    /// Adopts the `requestedQueryCost` Shopify reported for a call (of `items` ids, for a level read).
    package mutating func learn(_ call: Call, items: Int = 1, requested: Double) {
        guard requested > 0, requested.isFinite else { return }
        perCall[call] = call == .levels ? requested / Double(max(1, items)) : requested
    }

    /// How many ids one level read may ask for: at most `limit` (Shopify's 250 for input arrays), and few enough that
    /// the read stays within ``maximumPerQuery``.
    package func levelItemsPerQuery(limit: Int) -> Int {
        max(1, min(limit, Int((Self.maximumPerQuery / perCall[.levels]!).rounded(.down))))
    }
}
