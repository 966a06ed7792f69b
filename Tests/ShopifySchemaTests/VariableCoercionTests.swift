import Testing

@testable import ShopifySchema

/// Coercion of the request's `variables` (graphql-ruby's messages, Shopify's `INVALID_VARIABLE` code).
@Suite("Variable coercion")
struct VariableCoercionTests {
    static let mutation = ExporterDocumentsTests.setQuantitiesMutation

    /// The exporter's variables with `quantities[0]` replaced.
    static func variables(quantity: JSONObject? = nil, input: JSONObject? = nil, key: JSONValue? = "abc") -> JSONObject {
        var quantities: JSONObject = [
            "inventoryItemId": "gid://shopify/InventoryItem/1", "locationId": "gid://shopify/Location/1",
            "quantity": 5, "changeFromQuantity": 4,
        ]
        if let quantity { quantities = quantity }
        var variables: JSONObject = [
            "input": .object(
                input ?? [
                    "name": "available", "reason": "correction",
                    "referenceDocumentUri": "gid://stockwire/StockVersion/TEE/3", "quantities": [.object(quantities)],
                ])
        ]
        if let key { variables["key"] = key }
        return variables
    }

    @Test func unknownInputField() throws {
        let errors = refusal(
            Self.mutation,
            variables: Self.variables(quantity: [
                "inventoryItemId": "gid://shopify/InventoryItem/1", "locationId": "gid://shopify/Location/1",
                "quantity": 5, "changeFromQuantity": 4, "compareQuantity": 4,
            ]))
        let error = try #require(errors.first)
        #expect(errors.count == 1)
        #expect(error.code == "INVALID_VARIABLE")
        #expect(
            error.message
                == "Variable $input of type InventorySetQuantitiesInput! was provided invalid value for quantities.0.compareQuantity (Field is not defined on InventoryQuantityInput)"
        )
        #expect(error.locations == [at(1, 33)])
        #expect(error.path == nil)
        #expect(
            error.extras["problems"] == [
                ["path": ["quantities", 0, "compareQuantity"], "explanation": "Field is not defined on InventoryQuantityInput"]
            ])
        #expect(
            error.extras["value"]
                == Self.variables(quantity: [
                    "inventoryItemId": "gid://shopify/InventoryItem/1", "locationId": "gid://shopify/Location/1",
                    "quantity": 5, "changeFromQuantity": 4, "compareQuantity": 4,
                ])["input"])
        #expect(
            error.jsonValue.jsonString.hasPrefix(
                #"{"message":"Variable $input of type InventorySetQuantitiesInput! was provided invalid value for quantities.0.compareQuantity (Field is not defined on InventoryQuantityInput)","locations":[{"line":1,"column":33}],"extensions":{"code":"INVALID_VARIABLE","value":{"name":"available""#
            ))
    }

    @Test func missingRequiredInputField() throws {
        let errors = refusal(
            Self.mutation, variables: Self.variables(input: ["name": "available", "reason": "correction"]))
        #expect(
            errors.map(\.message) == [
                "Variable $input of type InventorySetQuantitiesInput! was provided invalid value for quantities (Expected value to not be null)"
            ])
        #expect(errors.first?.extras["problems"] == [["path": ["quantities"], "explanation": "Expected value to not be null"]])
    }

    @Test func nullListItem() {
        let errors = refusal(
            Self.mutation,
            variables: Self.variables(input: [
                "name": "available", "reason": "correction", "quantities": [nil],
            ]))
        #expect(
            errors.map(\.message) == [
                "Variable $input of type InventorySetQuantitiesInput! was provided invalid value for quantities.0 (Expected value to not be null)"
            ])
    }

    @Test func changeFromQuantityIsNullableButQuantityIsNot() {
        acceptance(
            Self.mutation,
            variables: Self.variables(quantity: [
                "inventoryItemId": "gid://shopify/InventoryItem/1", "locationId": "gid://shopify/Location/1",
                "quantity": 5, "changeFromQuantity": nil,
            ]))
        let errors = refusal(
            Self.mutation,
            variables: Self.variables(quantity: [
                "inventoryItemId": "gid://shopify/InventoryItem/1", "locationId": "gid://shopify/Location/1",
                "quantity": nil, "changeFromQuantity": 3,
            ]))
        #expect(
            errors.map(\.message) == [
                "Variable $input of type InventorySetQuantitiesInput! was provided invalid value for quantities.0.quantity (Expected value to not be null)"
            ])
    }

    @Test func severalProblemsInOneVariable() {
        let errors = refusal(
            Self.mutation,
            variables: Self.variables(quantity: [
                "inventoryItemId": "1", "quantity": 5.5, "changeFromQuantity": "4",
            ]))
        #expect(errors.count == 1)
        #expect(
            errors.first?.message
                == "Variable $input of type InventorySetQuantitiesInput! was provided invalid value for quantities.0.inventoryItemId (Invalid global id `1`), quantities.0.quantity (Could not coerce value 5.5 to Int), quantities.0.changeFromQuantity (Could not coerce value \"4\" to Int), quantities.0.locationId (Expected value to not be null)"
        )
        // A scalar's own coercion error carries its message in the problem too (graphql-ruby).
        guard case .array(let problems)? = errors.first?.extras["problems"], case .object(let first)? = problems.first
        else {
            Issue.record("expected problems")
            return
        }
        #expect(first["message"] == "Invalid global id `1`")
    }

    @Test func missingNonNullVariable() throws {
        let error = try #require(refusal(Self.mutation, variables: Self.variables(key: nil)).first)
        #expect(error.message == "Variable $key of type String! was provided invalid value")
        #expect(error.extras == ["value": nil, "problems": [["path": [], "explanation": "Expected value to not be null"]]])
        #expect(error.locations == [at(1, 71)])
    }

    @Test func nullIntoNonNullVariable() {
        #expect(
            refusal(Self.mutation, variables: Self.variables(key: .null)).map(\.message)
                == ["Variable $key of type String! was provided invalid value"])
    }

    @Test func intOutOfRange() throws {
        let query = ExporterDocumentsTests.locationsQuery
        let error = try #require(refusal(query, variables: ["first": 2_147_483_648]).first)
        #expect(error.message == "Variable $first of type Int! was provided invalid value")
        #expect(error.extras["problems"] == [["path": [], "explanation": "Could not coerce value 2147483648 to Int"]])
        acceptance(query, variables: ["first": 2_147_483_647])
        #expect(refusal(query, variables: ["first": 5.0]).count == 1)  // graphql-ruby's Int takes integers only
        #expect(refusal(query, variables: ["first": "5"]).count == 1)
    }

    @Test func enumOutOfRange() throws {
        let query = "query Q($sort: ProductVariantSortKeys) { productVariants(first: 1, sortKey: $sort) { nodes { id } } }"
        let error = try #require(refusal(query, variables: ["sort": "PRICE"]).first)
        #expect(error.message == "Variable $sort of type ProductVariantSortKeys was provided invalid value")
        #expect(
            error.extras["problems"] == [
                [
                    "path": [],
                    "explanation":
                        #"Expected "PRICE" to be one of: FULL_TITLE, ID, INVENTORY_LEVELS_AVAILABLE, INVENTORY_MANAGEMENT, INVENTORY_POLICY, INVENTORY_QUANTITY, NAME, POPULAR, POSITION, RELEVANCE, SKU, TITLE"#,
                ]
            ])
        acceptance(query, variables: ["sort": "SKU"])
        acceptance(query)  // nullable, not given
    }

    @Test func inputObjectGivenAString() throws {
        let error = try #require(refusal(Self.mutation, variables: ["input": "everything", "key": "k"]).first)
        #expect(error.extras["problems"] == [["path": [], "explanation": #"Expected "everything" to be a key-value object."#]])
    }

    @Test func variableDefaultsAndCoercion() throws {
        let request = try #require(
            acceptance(
                #"query Q($first: Int = 3, $reverse: Boolean) { locations(first: $first, reverse: $reverse) { nodes { id } } }"#
            ))
        #expect(request.variables == ["first": 3])
        let lenient = try #require(
            acceptance(
                "query Q($id: ID!) { inventoryItem(id: $id) { id } }", variables: ["id": 42],
                validator: Fixtures.lenientValidator))
        #expect(lenient.variables == ["id": "42"])  // graphql-ruby's ID turns integers into strings
    }

    @Test func staticErrorsComeBeforeVariableErrors() {
        let errors = refusal("query Q($first: Int!) { locations(first: $first) { nodes { nope } } }", variables: [:])
        #expect(errors.map(\.code) == ["undefinedField"])
    }

    @Test func customScalars() {
        let rules = ScalarRules(strictGlobalIDs: true)
        #expect(rules.check(.json("2019-09-07T15:50:00Z"), scalar: "DateTime") == nil)
        #expect(rules.check(.json("yesterday"), scalar: "DateTime") != nil)
        #expect(rules.check(.json("29.99"), scalar: "Decimal") == nil)
        #expect(rules.check(.json(29.99), scalar: "Money") == nil)
        #expect(rules.check(.json("abc"), scalar: "Decimal")?.explanation == #"Could not coerce value "abc" to Decimal"#)
        #expect(rules.check(.json("18446744073709551615"), scalar: "UnsignedInt64") == nil)
        #expect(rules.check(.json("18446744073709551616"), scalar: "UnsignedInt64") != nil)
        #expect(rules.check(.json(-1), scalar: "UnsignedInt64") != nil)
        #expect(rules.check(.json("-12"), scalar: "BigInt") == nil)
        #expect(rules.check(.json(["any": ["json": true]]), scalar: "JSON") == nil)
        #expect(rules.check(.json(5), scalar: "URL") != nil)
        #expect(rules.check(.json("gid://shopify/ProductImage/1?product_id=2"), scalar: "ID") == nil)
        #expect(rules.check(.json("gid://shopify/Article/596218773737\\"), scalar: "ID") != nil)
    }
}
