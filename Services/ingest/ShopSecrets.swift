import Contracts
import ServiceKit

/// The shops ingest accepts webhooks from, each with the secrets its webhooks may be signed with.
///
/// Written as `domain=secret-file[,secret-file…]` entries separated by `;` (environment) or by lines (shops file),
/// e.g. `acme.myshopify.com=/run/secrets/acme,/run/secrets/acme-old;beta.myshopify.com=/run/secrets/beta`. Several
/// files per shop cover a secret rotation, when Shopify may still sign with the old secret for up to an hour.
/// The secret values never appear in descriptions, logs or errors; only file paths do.
struct ShopSecrets: Sendable, CustomStringConvertible {
    /// Secret bytes per shop.
    private let secrets: [ShopDomain: [[UInt8]]]
    /// The secret file paths per shop, for start-up logs.
    let files: [ShopDomain: [String]]

    /// Shops with their secrets already in memory (tests).
    init(secrets: [ShopDomain: [String]]) {
        self.secrets = secrets.mapValues { values in values.map { Array($0.utf8) } }
        self.files = secrets.mapValues { _ in [] }
    }

    private init(secrets: [ShopDomain: [[UInt8]]], files: [ShopDomain: [String]]) {
        self.secrets = secrets
        self.files = files
    }

    /// Parses entries (see the type's documentation) and reads every secret file now, so that a missing file stops
    /// the start instead of failing requests later. `origin` names where the entries came from, for errors.
    static func load(entries: [String], origin: String) throws -> ShopSecrets {
        var secrets: [ShopDomain: [[UInt8]]] = [:]
        var files: [ShopDomain: [String]] = [:]
        for raw in entries {
            let entry = raw.trimmingCharacters(in: .whitespaces)
            if entry.isEmpty || entry.hasPrefix("#") { continue }
            guard let eq = entry.firstIndex(of: "=") else {
                throw ConfigurationError(
                    "\(origin): '\(entry)' is not domain=secret-file[,secret-file]"
                        + " (e.g. acme.myshopify.com=/run/secrets/acme)")
            }
            let domain: ShopDomain
            do {
                domain = try ShopDomain(entry[..<eq])
            } catch {
                throw ConfigurationError("\(origin): \(error)")
            }
            guard secrets[domain] == nil else {
                throw ConfigurationError("\(origin): shop \(domain) is listed twice; give all its secret files in one entry")
            }
            let paths = entry[entry.index(after: eq)...].split(separator: ",")
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard !paths.isEmpty else {
                throw ConfigurationError("\(origin): shop \(domain) has no secret file")
            }
            secrets[domain] = try paths.map { path in
                Array(try Environment.secret(file: path, purpose: "shop \(domain) webhook secret").utf8)
            }
            files[domain] = paths
        }
        return ShopSecrets(secrets: secrets, files: files)
    }

    /// Both sets of shops together; a shop in both is a configuration error.
    func merging(_ other: ShopSecrets) throws -> ShopSecrets {
        if let twice = secrets.keys.first(where: { other.secrets[$0] != nil }) {
            throw ConfigurationError("shop \(twice) is configured both in STOCKWIRE_SHOPS and in the shops file")
        }
        return ShopSecrets(
            secrets: secrets.merging(other.secrets) { a, _ in a }, files: files.merging(other.files) { a, _ in a })
    }

    /// The secrets of `domain`, or nil for a shop ingest does not know.
    func secrets(for domain: ShopDomain) -> [[UInt8]]? { secrets[domain] }

    /// The known shop domains, sorted.
    var domains: [ShopDomain] { secrets.keys.sorted() }

    /// Number of shops.
    var count: Int { secrets.count }

    var description: String {
        domains.map { "\($0) (\(secrets[$0]?.count ?? 0) secrets)" }.joined(separator: ", ")
    }
}
