import ExporterCore
import Foundation

/// `exporter check-shop`: what a merchant runs before going live with a shop, read-only. It gathers what the shop
/// says (token scopes, locations, every variant, their levels at Stockwire's location) and, when given, what the
/// truth says each SKU should show, then judges each check: ok, a warning, or a problem that would oversell or make
/// writes fail (the command then exits 1).
///
/// Gathering talks to Shopify; judging (``analyze(_:)``) is pure, so each rule is tested without a shop.
enum ShopCheck {
    /// How bad a finding is.
    enum Severity: String, Codable, Sendable, Comparable {
        case ok, warning, problem

        static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
        private var rank: Int { self == .ok ? 0 : self == .warning ? 1 : 2 }
    }

    /// One check's verdict.
    struct Finding: Codable, Sendable, Equatable {
        var check: String
        var severity: Severity
        var message: String
        /// What it is about (SKUs, locations, scopes), all of them.
        var items: [String] = []
    }

    /// The whole verdict on a shop.
    struct Report: Codable, Sendable, Equatable {
        var shop: String
        /// The location Stockwire writes, when one could be chosen.
        var location: String?
        var findings: [Finding]

        /// True when something would oversell or fail.
        var failed: Bool { findings.contains { $0.severity == .problem } }

        /// For the terminal: one line per check, at most `listed` items each.
        func text(listed: Int = 20) -> String {
            var out = "check-shop \(shop)" + (location.map { " (writes location \($0))" } ?? "") + "\n"
            for f in findings {
                let mark = f.severity == .ok ? "ok     " : f.severity == .warning ? "WARNING" : "PROBLEM"
                out += "  \(mark)  \(f.check): \(f.message)\n"
                for item in f.items.prefix(listed) { out += "             - \(item)\n" }
                if f.items.count > listed { out += "             … and \(f.items.count - listed) more (--json lists all)\n" }
            }
            let problems = findings.filter { $0.severity == .problem }.count
            let warnings = findings.filter { $0.severity == .warning }.count
            out +=
                problems > 0
                ? "\(problems) problem(s), \(warnings) warning(s): fix the problems before going live\n"
                : "no problems, \(warnings) warning(s)\n"
            return out
        }
    }

    /// The scopes Stockwire needs: to read and write levels, to look up variants and locations, and (for the order
    /// webhooks the calculator reads) to read orders.
    static let requiredScopes = ["read_inventory", "write_inventory", "read_products", "read_locations", "read_orders"]

    /// What was found in the shop (nil: could not be read; the error says why).
    struct Facts: Sendable {
        var shop: String
        var apiVersion: String
        var now: Date
        var configuredLocation: String?
        var scopes: Result<[String], CheckError>
        var locations: Result<[AdminAPIClient.Location], CheckError>
        var variants: Result<[AdminAPIClient.Variant], CheckError>
        /// `available` at Stockwire's location, by inventory item (items not stocked there are absent).
        var levels: Result<[String: Int64], CheckError>
        /// What each SKU should show in this shop (`calculator availability --shop <domain> --json`); nil: not given.
        var truth: [String: Int64]?
    }

    /// Why something could not be read.
    struct CheckError: Error, Sendable, Equatable, CustomStringConvertible {
        var description: String
    }

    // MARK: - Judging

    static func analyze(_ facts: Facts) -> Report {
        var findings: [Finding] = []
        findings.append(apiVersion(facts))
        findings.append(scopes(facts))
        let (location, locationFindings) = location(facts)
        findings += locationFindings
        findings += catalog(facts)
        findings += truth(facts)
        return Report(shop: facts.shop, location: location, findings: findings)
    }

    private static func apiVersion(_ facts: Facts) -> Finding {
        guard let version = ShopifyAPIVersion(facts.apiVersion) else {
            return Finding(
                check: "api version", severity: .problem, message: "'\(facts.apiVersion)' is not a version like 2026-10")
        }
        if version < ShopifyAPIVersion.minimum {
            return Finding(
                check: "api version", severity: .problem,
                message:
                    "\(version) is older than \(ShopifyAPIVersion.minimum), the first with the compare-and-set writes Stockwire needs"
            )
        }
        if let warning = version.supportWarning(shop: facts.shop, now: facts.now) {
            return Finding(check: "api version", severity: .warning, message: warning)
        }
        return Finding(check: "api version", severity: .ok, message: "\(version) is supported")
    }

    private static func scopes(_ facts: Facts) -> Finding {
        switch facts.scopes {
        case .failure(let error):
            return Finding(check: "token", severity: .problem, message: "the scopes could not be read: \(error)")
        case .success(let granted):
            // A write scope implies its read scope (https://shopify.dev/docs/api/usage/access-scopes).
            let have = Set(granted).union(granted.filter { $0.hasPrefix("write_") }.map { "read_" + $0.dropFirst(6) })
            let missing = requiredScopes.filter { !have.contains($0) }
            return missing.isEmpty
                ? Finding(check: "token", severity: .ok, message: "the token has every scope Stockwire needs")
                : Finding(
                    check: "token", severity: .problem,
                    message: "scopes missing: grant them to the app, then reinstall it", items: missing)
        }
    }

    private static func location(_ facts: Facts) -> (String?, [Finding]) {
        let locations: [AdminAPIClient.Location]
        switch facts.locations {
        case .failure(let error):
            return (nil, [Finding(check: "location", severity: .problem, message: "the locations could not be read: \(error)")])
        case .success(let l):
            locations = l
        }
        let chosen: AdminAPIClient.Location
        if let configured = facts.configuredLocation {
            guard let found = locations.first(where: { $0.id == configured }) else {
                return (
                    nil,
                    [
                        Finding(
                            check: "location", severity: .problem,
                            message: "location_id \(configured) is not one of the shop's locations",
                            items: locations.map(\.label))
                    ]
                )
            }
            chosen = found
        } else {
            guard locations.count == 1 else {
                return (
                    nil,
                    [
                        Finding(
                            check: "location", severity: .problem,
                            message:
                                "the shop has \(locations.count) locations: set location_id in the shops file to the one Stockwire writes",
                            items: locations.map(\.label))
                    ]
                )
            }
            chosen = locations[0]
        }
        var findings: [Finding] = []
        if !chosen.isActive {
            findings.append(
                Finding(check: "location", severity: .problem, message: "\(chosen.name) is not active: nothing sells from it"))
        } else if !chosen.fulfillsOnlineOrders {
            findings.append(
                Finding(
                    check: "location", severity: .problem,
                    message:
                        "\(chosen.name) does not fulfil online orders: the online store does not sell the stock Stockwire writes there"
                ))
        } else {
            findings.append(
                Finding(check: "location", severity: .ok, message: "\(chosen.name) is active and fulfils online orders"))
        }
        // Stockwire writes one location per shop. Another location that fulfils online orders sells its own stock of
        // the same SKUs; Shopify routes orders there by its own rules, and every order line still reserves the
        // warehouse's stock (see README, "Several locations").
        let others = locations.filter { $0.id != chosen.id && $0.sellsOnline }
        if !others.isEmpty {
            findings.append(
                Finding(
                    check: "other locations", severity: .warning,
                    message: "other locations fulfil online orders: Shopify adds their stock of a SKU to what this shop sells, "
                        + "and orders it routes there still reserve the warehouse's stock",
                    items: others.map(\.label)))
        }
        return (chosen.id, findings)
    }

    private static func catalog(_ facts: Facts) -> [Finding] {
        guard case .success(let variants) = facts.variants else {
            if case .failure(let error) = facts.variants {
                return [Finding(check: "catalog", severity: .problem, message: "the variants could not be read: \(error)")]
            }
            return []
        }
        var findings: [Finding] = []
        let withSku = variants.filter { !$0.sku.trimmingCharacters(in: .whitespaces).isEmpty }
        findings.append(
            Finding(check: "catalog", severity: .ok, message: "\(variants.count) variants, \(withSku.count) with a SKU"))
        let noSku = variants.count - withSku.count
        if noSku > 0 {
            findings.append(
                Finding(
                    check: "variants without SKU", severity: .warning,
                    message: "\(noSku) variant(s) have no SKU: Stockwire cannot sync them",
                    items: variants.filter { $0.sku.trimmingCharacters(in: .whitespaces).isEmpty }.map(\.id)))
        }
        let bySku = Dictionary(grouping: withSku, by: \.sku)
        let duplicates = bySku.filter { $0.value.count > 1 }.keys.sorted()
        if !duplicates.isEmpty {
            findings.append(
                Finding(
                    check: "duplicate SKUs", severity: .problem,
                    message:
                        "several variants share a SKU: each is written the whole available, so together they can sell it more than once",
                    items: duplicates.map { "\($0) (\(bySku[$0]!.count) variants)" }))
        }
        findings += [
            listed(
                "untracked items", .problem,
                "Shopify does not track these items' inventory: they sell without limit; turn on \"Track quantity\"",
                withSku.filter { $0.tracked == false }),
            listed(
                "continue selling", .problem,
                "these variants keep selling when out of stock (inventory policy CONTINUE): they oversell whatever Stockwire writes",
                withSku.filter { $0.continueSelling == true }),
            listed(
                "bundles", .warning,
                "bundle parents: Shopify computes their stock from their components, which Stockwire writes; they are not written themselves",
                withSku.filter { $0.requiresComponents == true }),
        ].compactMap { $0 }
        return findings
    }

    /// A finding listing the SKUs of `variants`, or nil when there are none.
    private static func listed(
        _ check: String, _ severity: Severity, _ message: String, _ variants: [AdminAPIClient.Variant]
    ) -> Finding? {
        variants.isEmpty ? nil : Finding(check: check, severity: severity, message: message, items: variants.map(\.sku).sorted())
    }

    private static func truth(_ facts: Facts) -> [Finding] {
        guard let truth = facts.truth else {
            return [
                Finding(
                    check: "drift", severity: .warning,
                    message: "not compared with the truth: pass --truth (calculator availability --shop \(facts.shop) --json)")
            ]
        }
        guard case .success(let variants) = facts.variants, case .success(let levels) = facts.levels else {
            if case .failure(let error) = facts.levels {
                return [Finding(check: "drift", severity: .problem, message: "the levels could not be read: \(error)")]
            }
            return []
        }
        var findings: [Finding] = []
        let written = variants.filter { !$0.sku.isEmpty && $0.tracked != false && $0.requiresComponents != true }
        let shopSkus = Set(written.map(\.sku))
        let lacking = truth.keys.filter { !shopSkus.contains($0) }.sorted()
        if !lacking.isEmpty {
            findings.append(
                Finding(
                    check: "SKUs the shop lacks", severity: .warning,
                    message:
                        "\(lacking.count) SKU(s) Stockwire knows are not listed in this shop (fine if the shop does not sell them)",
                    items: lacking))
        }
        let unknown = shopSkus.filter { truth[$0] == nil }.sorted()
        if !unknown.isEmpty {
            findings.append(
                Finding(
                    check: "SKUs Stockwire does not know", severity: .warning,
                    message:
                        "\(unknown.count) SKU(s) of the shop have no stock in the warehouse's truth: Stockwire never writes them",
                    items: unknown))
        }
        var over: [String] = []
        var under: [String] = []
        for v in written.sorted(by: { $0.sku < $1.sku }) {
            guard let target = truth[v.sku] else { continue }
            let level = levels[v.inventoryItemId]
            guard let level else {
                over.append("\(v.sku): not stocked at the location (Stockwire's writes to it fail)")
                continue
            }
            if level > target { over.append("\(v.sku): shop \(level), truth \(target)") }
            if level < target { under.append("\(v.sku): shop \(level), truth \(target)") }
        }
        if !over.isEmpty {
            findings.append(
                Finding(
                    check: "drift", severity: .problem,
                    message:
                        "the shop shows more than the truth for \(over.count) SKU(s): it can sell units the warehouse does not have "
                        + "(the exporter corrects this once it runs; a live shop may be mid-sync)",
                    items: over))
        }
        if !under.isEmpty {
            findings.append(
                Finding(
                    check: "drift", severity: .warning,
                    message: "the shop shows less than the truth for \(under.count) SKU(s): sales it refuses", items: under))
        }
        if over.isEmpty && under.isEmpty {
            findings.append(Finding(check: "drift", severity: .ok, message: "every SKU in both shows the truth"))
        }
        return findings
    }

    // MARK: - Gathering

    /// Reads what the checks need from the shop. Each part that cannot be read becomes a failure the report names;
    /// nothing is written.
    static func gather(shop: ShopSettings, client: AdminAPIClient, truth: [String: Int64]?, now: Date = Date()) async -> Facts {
        func attempt<T>(_ body: () async throws -> T) async -> Result<T, CheckError> {
            do { return .success(try await body()) } catch { return .failure(CheckError(description: describe(error))) }
        }
        let scopes = await attempt { try await client.accessScopes() }
        let locations = await attempt { try await client.locations() }
        let variants = await attempt { try await client.allVariants() }
        var levels: Result<[String: Int64], CheckError> = .failure(CheckError(description: "no location to read"))
        // The location the exporter writes: the configured one, or the shop's only one.
        let location = shop.locationId ?? (try? locations.get()).flatMap { $0.count == 1 ? $0[0].id : nil }
        if let location, case .success(let all) = variants {
            levels = await attempt {
                var out: [String: Int64] = [:]
                let items = all.map(\.inventoryItemId)
                let page = QueryCosts().levelItemsPerQuery(limit: 250)
                for start in stride(from: 0, to: items.count, by: page) {
                    let (found, _) = try await client.levels(
                        items: Array(items[start..<min(start + page, items.count)]), locationId: location)
                    out.merge(found) { a, _ in a }
                }
                return out
            }
        }
        return Facts(
            shop: shop.domain.description, apiVersion: shop.apiVersion, now: now, configuredLocation: shop.locationId,
            scopes: scopes,
            locations: locations, variants: variants, levels: levels, truth: truth)
    }

    private static func describe(_ error: any Error) -> String {
        guard let failure = error as? AdminAPIClient.Failure else { return "\(error)" }
        switch failure {
        case .unauthorized: return "the token was refused (401): check the token file"
        case .refused(let refusal): return refusal.reason
        case .throttled: return "throttled by Shopify: run the check again in a minute"
        case .transient(let reason): return "Shopify did not answer: \(reason)"
        case .rejected(let reason): return "Shopify refused the request: \(reason)"
        case .tooCostly(let cost): return "a query was over Shopify's cost maximum (\(cost.map { "\($0)" } ?? "?"))"
        }
    }

    /// Reads a truth file: `{"skus": {"<sku>": <what the shop should show>, …}}`, as `calculator availability --json`
    /// writes it.
    static func truth(from data: Data) throws -> [String: Int64] {
        struct File: Decodable { var skus: [String: Int64] }
        do {
            return try JSONDecoder().decode(File.self, from: data).skus
        } catch {
            throw CheckError(
                description:
                    "the truth file is not {\"skus\": {\"<sku>\": <number>}} as calculator availability --json writes it: \(error)"
            )
        }
    }
}
