import ServiceKit

/// The shops ingest accepts webhooks from, each with the secrets its webhooks may be signed with.
///
/// Written as `domain=secret-file[,secret-file…]` entries separated by `;` (environment) or by lines (shops file),
/// e.g. `acme.myshopify.com=/run/secrets/acme,/run/secrets/acme-old;beta.myshopify.com=/run/secrets/beta`. Several
/// files per shop cover a secret rotation, when Shopify may still sign with the old secret for up to an hour.
/// The secret values never appear in descriptions, logs or errors; only file paths do.
struct ShopSecrets: Sendable, CustomStringConvertible {
    /// Secret bytes per shop domain (lower-cased).
    private let secrets: [String: [[UInt8]]]
    /// The secret file paths per shop, for start-up logs.
    let files: [String: [String]]

    /// Shops with their secrets already in memory (tests).
    init(secrets: [String: [String]]) {
        var bytes: [String: [[UInt8]]] = [:]
        for (domain, values) in secrets { bytes[Self.normalize(domain)] = values.map { Array($0.utf8) } }
        self.secrets = bytes
        self.files = secrets.mapValues { _ in [] }
    }

    private init(secrets: [String: [[UInt8]]], files: [String: [String]]) {
        self.secrets = secrets
        self.files = files
    }

    /// Parses entries (see the type's documentation) and reads every secret file now, so that a missing file stops
    /// the start instead of failing requests later. `origin` names where the entries came from, for errors.
    static func load(entries: [String], origin: String) throws -> ShopSecrets {
        var secrets: [String: [[UInt8]]] = [:]
        var files: [String: [String]] = [:]
        for raw in entries {
            let entry = raw.trimmingCharacters(in: .whitespaces)
            if entry.isEmpty || entry.hasPrefix("#") { continue }
            guard let eq = entry.firstIndex(of: "=") else {
                throw ConfigurationError(
                    "\(origin): '\(entry)' is not domain=secret-file[,secret-file]"
                        + " (e.g. acme.myshopify.com=/run/secrets/acme)")
            }
            let domain = normalize(String(entry[..<eq]))
            guard isPlausibleDomain(domain) else {
                throw ConfigurationError("\(origin): '\(domain)' is not a shop domain like name.myshopify.com")
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

    /// The secrets of `domain` (case-insensitive), or nil for a shop ingest does not know.
    func secrets(for domain: String) -> [[UInt8]]? { secrets[Self.normalize(domain)] }

    /// The secrets of a domain already passed through ``normalize(_:)``.
    func secrets(forNormalized domain: String) -> [[UInt8]]? { secrets[domain] }

    /// The known shop domains, sorted.
    var domains: [String] { secrets.keys.sorted() }

    /// Number of shops.
    var count: Int { secrets.count }

    var description: String {
        domains.map { "\($0) (\(secrets[$0]?.count ?? 0) secrets)" }.joined(separator: ", ")
    }

    static func normalize(_ domain: String) -> String {
        domain.trimmingWhitespace.lowercased()
    }

    private static func isPlausibleDomain(_ domain: String) -> Bool {
        !domain.isEmpty && domain.count <= 255 && domain.contains(".")
            && domain.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "." }
    }
}
