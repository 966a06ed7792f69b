import Foundation
import Testing

@testable import ShopifySchema
@testable import exporter

/// The four documents the Stockwire exporter sends (read from the exporter itself, so that a change to one is
/// validated here), with the variables it sends.
@Suite("Exporter documents")
struct ExporterDocumentsTests {
    static let setQuantitiesMutation = AdminAPIClient.setQuantitiesMutation
    static let variantsQuery = AdminAPIClient.variantsQuery
    static let locationsQuery = AdminAPIClient.locationsQuery
    static let levelsQuery = AdminAPIClient.levelsQuery

    static let setQuantitiesVariables: JSONObject = [
        "input": [
            "name": "available", "reason": "correction", "referenceDocumentUri": "gid://stockwire/StockVersion/TEE/3",
            "quantities": [
                [
                    "inventoryItemId": "gid://shopify/InventoryItem/1", "locationId": "gid://shopify/Location/1",
                    "quantity": 5, "changeFromQuantity": 4,
                ]
            ],
        ],
        "key": "abc",
    ]

    @Test func setQuantitiesMutationValidates() throws {
        let request = try #require(acceptance(Self.setQuantitiesMutation, variables: Self.setQuantitiesVariables))
        #expect(request.operation.name == "StockwireSetQuantities")
        #expect(request.operation.operationType == .mutation)
        #expect(request.variables == Self.setQuantitiesVariables)
    }

    @Test func setQuantitiesMutationValidatesWithFoundationVariables() throws {
        // Built the way AdminAPIClient builds them: [String: Any], NSNull for a missing changeFromQuantity.
        let input: [String: Any] = [
            "name": "available", "reason": "correction", "referenceDocumentUri": "gid://stockwire/StockVersion/TEE/3",
            "quantities": [
                [
                    "inventoryItemId": "gid://shopify/InventoryItem/1", "locationId": "gid://shopify/Location/1",
                    "quantity": 5, "changeFromQuantity": NSNull(),
                ] as [String: Any]
            ],
        ]
        let result = Fixtures.validator.validate(
            document: Self.setQuantitiesMutation, variables: ["input": input, "key": "abc"])
        let request = try result.get()
        let quantities = try #require(
            request.variables["input"].flatMap {
                if case .object(let o) = $0, case .array(let q)? = o["quantities"] { q } else { nil }
            })
        #expect(
            quantities == [
                [
                    "changeFromQuantity": nil, "inventoryItemId": "gid://shopify/InventoryItem/1",
                    "locationId": "gid://shopify/Location/1", "quantity": 5,
                ]
            ])
    }

    @Test func variantsQueryValidates() {
        acceptance(Self.variantsQuery, variables: ["first": 10, "query": "sku:\"TEE-RED-M\""])
    }

    @Test func locationsQueryValidates() {
        acceptance(Self.locationsQuery, variables: ["first": 50])
    }

    @Test func levelsQueryValidates() throws {
        let request = try #require(
            acceptance(
                Self.levelsQuery,
                variables: [
                    "ids": ["gid://shopify/InventoryItem/1", "gid://shopify/InventoryItem/2"],
                    "locationId": "gid://shopify/Location/1",
                ]))
        #expect(request.variables["ids"] == ["gid://shopify/InventoryItem/1", "gid://shopify/InventoryItem/2"])
    }

    @Test func levelsQueryWrapsASingleIdInAList() throws {
        // Input coercion turns a single value into a one-item list.
        let request = try #require(
            acceptance(
                Self.levelsQuery,
                variables: ["ids": "gid://shopify/InventoryItem/1", "locationId": "gid://shopify/Location/1"]))
        #expect(request.variables["ids"] == ["gid://shopify/InventoryItem/1"])
    }

    @Test func theDefaultValidatorUsesTheSharedSchema() throws {
        let result = try AdminSchema.validate(document: Self.locationsQuery, variables: ["first": 50])
        #expect((try? result.get()) != nil)
    }
}
