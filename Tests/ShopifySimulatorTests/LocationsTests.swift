import Foundation
import ShopifySimulator
import Testing

/// Several locations per shop (issue #16, item 8): Shopify routes each order line to a location by its ranking and
/// keeps the units of unfulfilled orders as that location's `committed`.
@Suite struct LocationsTests {
    static let levelsQuery = """
        query R($ids: [ID!]!, $locationId: ID!) { nodes(ids: $ids) { ... on InventoryItem { id
          inventoryLevel(locationId: $locationId) { quantities(names: ["available", "committed", "on_hand"]) { name quantity } } } } }
        """

    @Test func ordersAreRoutedToTheFirstRankedLocationThatSellsOnlineAndHasTheUnits() async throws {
        try await withSimulator { sim in
            let store = try await sim.addLocation(shop: shopA, name: "Store", fulfillsOnlineOrders: false)
            let outlet = try await sim.addLocation(shop: shopA, name: "Outlet", fulfillsOnlineOrders: true)
            let warehouse = try await sim.configuration(shop: shopA).locationID
            let tee = try await sim.createVariant(shop: shopA, sku: "TEE", available: 2)
            try await sim.setAvailable(shop: shopA, inventoryItemID: tee.inventoryItemId, locationID: store, available: 50)
            try await sim.setAvailable(shop: shopA, inventoryItemID: tee.inventoryItemId, locationID: outlet, available: 5)

            func level(_ location: Int64) async throws -> (available: Int, committed: Int) {
                let l = try #require(try await sim.inventoryLevels(shop: shopA).first { $0.inventoryItemId == tee.inventoryItemId && $0.locationId == location })
                return (l.available, l.committed)
            }
            // 2 fit the warehouse (ranked first); the store does not sell online.
            let first = try await sim.checkout(shop: shopA, sku: "TEE", quantity: 2)
            #expect(try await level(warehouse) == (0, 2))
            // The warehouse has none left: the next order goes to the outlet, never to the store.
            let second = try await sim.checkout(shop: shopA, sku: "TEE", quantity: 3)
            #expect(try await level(outlet) == (2, 3))
            #expect(try await level(store) == (50, 0))
            // Fulfilled units leave committed; cancelled and restocked ones go back to available where they were.
            _ = try await sim.fulfill(shop: shopA, orderID: first.id)
            #expect(try await level(warehouse) == (0, 0))
            _ = try await sim.cancelOrder(shop: shopA, orderID: second.id, restock: true)
            #expect(try await level(outlet) == (5, 0))

            // The Admin API reads committed and on_hand beside available.
            _ = try await sim.checkout(shop: shopA, sku: "TEE", quantity: 1)
            let answer = try await graphQL(
                sim, Self.levelsQuery, ["ids": [.string(tee.inventoryItemGID)], "locationId": .string("gid://shopify/Location/\(outlet)")])
            let quantities = answer.json.at("data.nodes.0.inventoryLevel.quantities")?.arrayValue ?? []
            #expect(quantities.map { $0["quantity"] } == [.int(4), .int(1), .int(5)], "\(answer.json)")
        }
    }
}
