import Foundation

/// The read-only calls of `exporter check-shop`.
extension AdminAPIClient {
    static let accessScopesQuery = "query StockwireScopes { currentAppInstallation { accessScopes { handle } } }"

    /// One page of the shop's variants (200 a page: 2 + 200 × 2 points, within the 1,000-point maximum).
    static let catalogPageQuery = """
        query StockwireCatalog($first: Int!, $after: String) { productVariants(first: $first, after: $after) \
        { nodes { id sku inventoryPolicy requiresComponents inventoryItem { id tracked } } \
        pageInfo { hasNextPage endCursor } } }
        """

    /// The access scopes granted to the app's token.
    func accessScopes() async throws -> [String] {
        let (data, _) = try await call("scopes", Self.accessScopesQuery, variables: [:])
        let scopes = ((data["currentAppInstallation"] as? [String: Any])?["accessScopes"] as? [[String: Any]]) ?? []
        return scopes.compactMap { $0["handle"] as? String }
    }

    /// Every variant of the shop, page by page (`pageSize` a page).
    func allVariants(pageSize: Int = 200) async throws -> [Variant] {
        var out: [Variant] = []
        var after: String?
        repeat {
            var variables: [String: Any] = ["first": pageSize]
            if let after { variables["after"] = after }
            let (data, _) = try await call("variants", Self.catalogPageQuery, variables: variables)
            let connection = data["productVariants"] as? [String: Any] ?? [:]
            out += (connection["nodes"] as? [[String: Any]] ?? []).compactMap(Self.variant)
            let page = connection["pageInfo"] as? [String: Any] ?? [:]
            after = (page["hasNextPage"] as? Bool ?? false) ? page["endCursor"] as? String : nil
        } while after != nil
        return out
    }

    /// A variant node of `variantsQuery` or `catalogPageQuery` (a variant without a SKU has `sku` "").
    static func variant(_ node: [String: Any]) -> Variant? {
        guard let id = node["id"] as? String, let item = node["inventoryItem"] as? [String: Any],
            let itemId = item["id"] as? String
        else { return nil }
        return Variant(
            id: id, sku: node["sku"] as? String ?? "", inventoryItemId: itemId, tracked: item["tracked"] as? Bool,
            continueSelling: (node["inventoryPolicy"] as? String).map { $0 == "CONTINUE" },
            requiresComponents: node["requiresComponents"] as? Bool)
    }
}
