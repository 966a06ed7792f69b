import Foundation
import ShopifySimulator
import Testing

/// Shopify: "Input arguments that accept an array have a maximum size of 250 for all APIs. Requests return an error
/// if an input array exceeds 250 items" (https://shopify.dev/docs/api/usage/limits). The whole request fails.
@Suite struct InputLimitTests {
    @Test func aWriteOf251QuantitiesIsRefusedWholeAnd250AreTaken() async throws {
        try await withSimulator { sim in
            var variants: [ProductVariant] = []
            for i in 0..<251 { variants.append(try await sim.createVariant(shop: shopA, sku: "S\(i)", available: 1)) }
            let over = try await graphQL(sim, setQuantitiesMutation, setInput(variants.map { quantity($0, 5, from: 1) }))
            #expect(over.json.at("errors.0.extensions.code")?.stringValue == "MAX_INPUT_SIZE_EXCEEDED")
            #expect(try await sim.levels(shop: shopA).values.allSatisfy { $0 == 1 }, "nothing of it ran")
            let within = try await graphQL(
                sim, setQuantitiesMutation, setInput(variants.prefix(250).map { quantity($0, 5, from: 1) }))
            #expect(within.json.at("errors") == nil)
            #expect(try await sim.levels(shop: shopA)["S0"] == 5)
        }
    }

    @Test func aLevelReadOf251IdsIsRefused() async throws {
        try await withSimulator { sim in
            let v = try await sim.createVariant(shop: shopA, sku: "S", available: 1)
            let query = """
                query L($ids: [ID!]!, $loc: ID!) { nodes(ids: $ids) { ... on InventoryItem { id \
                inventoryLevel(locationId: $loc) { quantities(names: ["available"]) { name quantity } } } } }
                """
            let loc = JSONValue.string("gid://shopify/Location/70001")
            let over = try await graphQL(
                sim, query, ["ids": .array(Array(repeating: .string(v.inventoryItemGID), count: 251)), "loc": loc])
            #expect(over.json.at("errors.0.extensions.code")?.stringValue == "MAX_INPUT_SIZE_EXCEEDED")
            let within = try await graphQL(
                sim, query, ["ids": .array(Array(repeating: .string(v.inventoryItemGID), count: 250)), "loc": loc])
            #expect(within.json.at("errors") == nil)
        }
    }
}
