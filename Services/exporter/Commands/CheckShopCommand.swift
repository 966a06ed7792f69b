import ArgumentParser
import AsyncHTTPClient
import Contracts
import Foundation
import ServiceKit

extension Exporter {
    struct CheckShop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check-shop",
            abstract: "Check a shop before going live: scopes, location, catalog, and drift from the truth. Read-only.",
            discussion: """
                Reads the shop through the Admin API with the shops file's token and writes nothing. Checks: the \
                pinned API version; the token's scopes (read_inventory, write_inventory, read_products, \
                read_locations, read_orders); the location Stockwire writes (it exists, is active, fulfils online \
                orders) and other locations that sell online too; every variant (no SKU, several variants on one \
                SKU, untracked items, CONTINUE selling, bundle parents); and, with --truth, the SKUs only one side \
                knows and every level that differs from what the truth says the shop should show.

                The truth comes from the calculator:
                  calculator availability --shop <domain> --json > truth.json
                  exporter check-shop <domain> --shops-file shops.json --truth truth.json

                Exit status 0 when nothing would oversell or fail (warnings allowed), 1 when a problem was found, \
                78 when the command itself is misconfigured.
                """)

        @Argument(help: "The shop's myshopify.com domain, as in the shops file.")
        var domain: String

        @Option(help: "Shops file, as for exporter run (env STOCKWIRE_EXPORTER_SHOPS_FILE).")
        var shopsFile: String?

        @Option(
            help:
                "What each SKU should show in this shop: the JSON of calculator availability --shop <domain> --json (- reads standard input)."
        )
        var truth: String?

        @Flag(help: "Print the report as JSON (every item listed).")
        var json = false

        func run() async throws {
            do {
                try await check()
            } catch let error as ConfigurationError {
                FileHandle.standardError.write(Data("exporter check-shop: \(error)\n".utf8))
                throw ExitCode(78)  // EX_CONFIG: the invocation is wrong, no shop was judged
            }
        }

        private func check() async throws {
            _ = Observability.bootstrap(service: "exporter", level: .warning)
            guard let file = shopsFile ?? Environment.string("STOCKWIRE_EXPORTER_SHOPS_FILE") else {
                throw ConfigurationError("no shops file: pass --shops-file or set STOCKWIRE_EXPORTER_SHOPS_FILE (see --help)")
            }
            let shops = try ShopSettings.load(file: file)
            guard let wanted = try? ShopDomain(domain), let shop = shops.first(where: { $0.domain == wanted }) else {
                throw ConfigurationError(
                    "\(domain) is not in the shops file \(file) (it lists: \(shops.map(\.domain.description).joined(separator: ", ")))"
                )
            }
            var expected: [String: Int64]?
            if let truth {
                let data: Data
                if truth == "-" {
                    data = FileHandle.standardInput.readDataToEndOfFile()
                } else {
                    guard let d = FileManager.default.contents(atPath: truth) else {
                        throw ConfigurationError("truth file \(truth) is missing or not readable")
                    }
                    data = d
                }
                do {
                    expected = try ShopCheck.truth(from: data)
                } catch {
                    throw ConfigurationError("\(error)")
                }
            }
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            let client = AdminAPIClient(shop: shop, http: http, timeout: .seconds(30))
            let facts = await ShopCheck.gather(shop: shop, client: client, truth: expected)
            try? await http.shutdown()
            let report = ShopCheck.analyze(facts)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
            } else {
                print(report.text(), terminator: "")
            }
            if report.failed { throw ExitCode(1) }
        }
    }
}
