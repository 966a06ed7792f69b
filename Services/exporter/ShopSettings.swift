import Contracts
import Foundation
import ServiceKit

/// One connected shop, as configured.
struct ShopSettings: Sendable, Equatable, Decodable {
    /// `name.myshopify.com`, normalised as ingest normalises Shopify's header: everything the calculator sends a shop
    /// (its share under the guard, its own sales, its catalog messages) is keyed by that domain. A shops file with
    /// `Acme.myshopify.com` once wrote that shop nothing of its share (0 under the guard) and missed its catalog
    /// messages.
    var domain: ShopDomain
    /// Admin API base URL; `https://<domain>` unless set (the simulator serves shops under a path).
    var adminURL: String
    /// File holding the Admin API access token; read again on every 401 so a rotated token is picked up.
    var tokenFile: String
    /// The location written to (`gid://shopify/Location/<n>`); looked up when absent (one location required).
    var locationId: String?
    /// The pinned Admin API version.
    var apiVersion: String

    enum CodingKeys: String, CodingKey {
        case domain, adminURL = "admin_url", tokenFile = "token_file", locationId = "location_id"
        case apiVersion = "api_version"
    }

    /// A shop; the Admin API is at `https://<domain>` unless `adminURL` says otherwise.
    init(
        domain: ShopDomain, adminURL: String? = nil, tokenFile: String, locationId: String? = nil,
        apiVersion: String = ShopifyAPIVersion.pinned.description
    ) {
        self.domain = domain
        self.adminURL = adminURL ?? "https://\(domain)"
        self.tokenFile = tokenFile
        self.locationId = locationId
        self.apiVersion = apiVersion
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        // Not ShopDomain's own decoding: its error names the domain without the JSON decoder's wrapping.
        let domain = try ShopDomain(try c.decode(String.self, forKey: .domain))
        self.init(
            domain: domain, adminURL: try c.decodeIfPresent(String.self, forKey: .adminURL),
            tokenFile: try c.decode(String.self, forKey: .tokenFile),
            locationId: try c.decodeIfPresent(String.self, forKey: .locationId),
            apiVersion: try c.decodeIfPresent(String.self, forKey: .apiVersion) ?? ShopifyAPIVersion.pinned.description)
    }

    /// The GraphQL endpoint.
    var graphQLURL: String { "\(adminURL)/admin/api/\(apiVersion)/graphql.json" }

    /// Reads the shops file: a JSON array of `{"domain", "token_file", "admin_url"?, "location_id"?, "api_version"?}`.
    static func load(file path: String) throws -> [ShopSettings] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError("shops file \(path) is missing or not readable")
        }
        let shops: [ShopSettings]
        do {
            shops = try JSONDecoder().decode([ShopSettings].self, from: data)
        } catch let error as ContractError {
            throw ConfigurationError("shops file \(path): \(error)")
        } catch {
            throw ConfigurationError(
                "shops file \(path) is not a JSON array of {\"domain\", \"token_file\", \"admin_url\"?, \"location_id\"?, \"api_version\"?}: \(error)"
            )
        }
        guard !shops.isEmpty else { throw ConfigurationError("shops file \(path) lists no shop") }
        var seen = Set<ShopDomain>()
        for shop in shops {
            guard seen.insert(shop.domain).inserted else {
                throw ConfigurationError("shops file \(path): \(shop.domain) is listed twice")
            }
            if let problem = ShopifyAPIVersion.problem(shop.apiVersion, shop: shop.domain.description) {
                throw ConfigurationError("shops file \(path): \(problem)")
            }
        }
        return shops
    }
}
