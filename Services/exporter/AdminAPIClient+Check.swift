import Foundation

/// The read-only calls of `exporter check-shop`.
extension AdminAPIClient {
    static let accessScopesQuery = "query StockwireScopes { currentAppInstallation { accessScopes { handle } } }"

    static let locationsDetailQuery = """
        query StockwireLocationsDetail($first: Int!) { locations(first: $first) { nodes { id name isActive \
        fulfillsOnlineOrders } } }
        """

    /// One page of the shop's variants (200 a page: 2 + 200 × 2 points, within the 1,000-point maximum).
    static let catalogPageQuery = """
        query StockwireCatalog($first: Int!, $after: String) { productVariants(first: $first, after: $after) \
        { nodes { id sku inventoryPolicy requiresComponents inventoryItem { id tracked } } \
        pageInfo { hasNextPage endCursor } } }
        """

    /// A location as check-shop reports it.
    struct LocationDetail: Sendable, Equatable, Codable {
        var id: String
        var name: String
        var isActive: Bool
        var fulfillsOnlineOrders: Bool
    }

    /// The access scopes granted to the app's token.
    func accessScopes() async throws -> [String] {
        let (data, _) = try await call("scopes", Self.accessScopesQuery, variables: [:])
        let scopes = ((data["currentAppInstallation"] as? [String: Any])?["accessScopes"] as? [[String: Any]]) ?? []
        return scopes.compactMap { $0["handle"] as? String }
    }

    /// The shop's locations, with whether each is active and fulfils online orders.
    func locationDetails() async throws -> [LocationDetail] {
        let (data, _) = try await call("locations", Self.locationsDetailQuery, variables: ["first": 50])
        let nodes = ((data["locations"] as? [String: Any])?["nodes"] as? [[String: Any]]) ?? []
        return nodes.compactMap { n in
            guard let id = n["id"] as? String else { return nil }
            return LocationDetail(
                id: id, name: n["name"] as? String ?? "", isActive: n["isActive"] as? Bool ?? true,
                fulfillsOnlineOrders: n["fulfillsOnlineOrders"] as? Bool ?? true)
        }
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
            for n in connection["nodes"] as? [[String: Any]] ?? [] {
                guard let id = n["id"] as? String, let item = n["inventoryItem"] as? [String: Any],
                    let itemId = item["id"] as? String
                else { continue }
                out.append(
                    Variant(
                        id: id, sku: (n["sku"] as? String) ?? "", inventoryItemId: itemId, tracked: item["tracked"] as? Bool,
                        continueSelling: (n["inventoryPolicy"] as? String).map { $0 == "CONTINUE" },
                        requiresComponents: n["requiresComponents"] as? Bool))
            }
            let page = connection["pageInfo"] as? [String: Any] ?? [:]
            after = (page["hasNextPage"] as? Bool ?? false) ? page["endCursor"] as? String : nil
        } while after != nil
        return out
    }
}
