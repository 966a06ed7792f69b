import Testing

@testable import ShopifySchema

/// One refused document per static-validation rule, checking graphql-ruby's code, message, location and path.
@Suite("Static validation: fields, arguments, selections")
struct StaticValidationTests {
    @Test func mistypedField() throws {
        let errors = refusal("query { shop { nam } }")
        #expect(errors.count == 1)
        let error = try #require(errors.first)
        #expect(error.code == "undefinedField")
        #expect(error.message == "Field 'nam' doesn't exist on type 'Shop'")
        #expect(error.locations == [at(1, 16)])
        #expect(error.path == ["query", "shop", "nam"])
        #expect(error.extras == ["typeName": "Shop", "fieldName": "nam"])
        // Exactly Shopify's response shape.
        #expect(
            error.jsonValue.jsonString
                == #"{"message":"Field 'nam' doesn't exist on type 'Shop'","locations":[{"line":1,"column":16}],"path":["query","shop","nam"],"extensions":{"code":"undefinedField","typeName":"Shop","fieldName":"nam"}}"#
        )
    }

    @Test func undefinedFieldStopsTheWalkBelowIt() {
        // Nothing is reported inside an undefined field, but its variable then counts as unused (graphql-ruby).
        let errors = refusal("query Q($n: Int) { nope(first: $n) { bogus } }")
        #expect(errors.map(\.code) == ["undefinedField", "variableNotUsed"])
        #expect(
            errors.map(\.message) == [
                "Field 'nope' doesn't exist on type 'QueryRoot'", "Variable $n is declared by Q but not used",
            ])
    }

    @Test func unknownArgument() throws {
        let error = try #require(refusal("{ locations(frist: 5) { nodes { id } } }").first)
        #expect(error.code == "argumentNotAccepted")
        #expect(error.message == "Field 'locations' doesn't accept argument 'frist'")
        #expect(error.locations == [at(1, 13)])
        #expect(error.path == ["query", "locations", "frist"])
        #expect(error.extras == ["name": "locations", "typeName": "Field", "argumentName": "frist"])
    }

    @Test func unknownArgumentNamesTheAlias() throws {
        let error = try #require(refusal("{ places: locations(frist: 5) { nodes { id } } }").first)
        #expect(error.message == "Field 'places' doesn't accept argument 'frist'")
        #expect(error.path == ["query", "places", "frist"])
    }

    @Test func duplicateArgument() throws {
        let errors = refusal("{ locations(first: 5, first: 6) { nodes { id } } }")
        let error = try #require(errors.first)
        #expect(error.code == "argumentNotUnique")
        #expect(error.message == #"There can be only one argument named "first""#)
        #expect(error.locations == [at(1, 13), at(1, 23)])
    }

    @Test func missingRequiredArgument() throws {
        let error = try #require(refusal("query { inventoryItem { id } }").first)
        #expect(error.code == "missingRequiredArguments")
        #expect(error.message == "Field 'inventoryItem' is missing required arguments: id")
        #expect(error.path == ["query", "inventoryItem"])
        #expect(error.extras == ["className": "Field", "name": "inventoryItem", "arguments": "id"])
    }

    @Test func leafWithSelection() throws {
        let error = try #require(refusal("{ shop { name { x } } }").first)
        #expect(error.code == "selectionMismatch")
        #expect(error.message == #"Selections can't be made on scalars (field 'name' returns String but has selections ["x"])"#)
        #expect(error.locations == [at(1, 10)])
        #expect(error.extras == ["nodeName": "field 'name'", "typeName": "String"])
    }

    @Test func enumWithSelection() throws {
        let error = try #require(refusal("{ shop { currencyCode { x ...F } } }").first)
        #expect(
            error.message
                == #"Selections can't be made on enums (field 'currencyCode' returns CurrencyCode but has selections ["x", "F"])"#
        )
    }

    @Test func objectWithoutSelection() throws {
        let error = try #require(refusal("query Shop { shop }").first)
        #expect(error.code == "selectionMismatch")
        #expect(
            error.message
                == "Field must have selections (field 'shop' returns Shop but has no selections. Did you mean 'shop { ... }'?)")
        #expect(error.path == ["query Shop", "shop"])
    }

    @Test func emptyOperationSelectionSet() throws {
        // graphql-ruby parses `{}` and refuses it in validation.
        let error = try #require(refusal("{}").first)
        #expect(
            error.message
                == "Field must have selections (anonymous query returns QueryRoot but has no selections. Did you mean ' { ... }'?)"
        )
    }

    @Test func fieldOnUnion() throws {
        let errors = refusal(#"{ automaticDiscount(id: "gid://shopify/DiscountAutomaticNode/1") { __typename title } }"#)
        let error = try #require(errors.first)
        #expect(errors.count == 1)
        #expect(error.code == "selectionMismatch")
        #expect(error.message == "Selections can't be made directly on unions (see selections on DiscountAutomatic)")
        #expect(error.locations == [at(1, 3)])  // the field holding the selection set
    }

    @Test func introspectionFields() {
        acceptance("{ __typename __schema { queryType { name } } __type(name: \"Shop\") { name } shop { __typename } }")
        let errors = refusal("mutation { __schema { queryType { name } } }")
        #expect(errors.map(\.message) == ["Field '__schema' doesn't exist on type 'Mutation'"])
    }

    @Test func literalOfTheWrongType() throws {
        let error = try #require(refusal(#"{ locations(first: "10") { nodes { id } } }"#).first)
        #expect(error.code == "argumentLiteralsIncompatible")
        #expect(error.message == #"Argument 'first' on Field 'locations' has an invalid value ("10"). Expected type 'Int'."#)
        #expect(error.locations == [at(1, 3)])  // graphql-ruby points at the field
        #expect(error.path == ["query", "locations", "first"])
        #expect(error.extras == ["typeName": "Field", "argumentName": "first"])
    }

    @Test func intLiteralOutOfRange() throws {
        let error = try #require(refusal("{ locations(first: 2147483648) { nodes { id } } }").first)
        #expect(
            error.message == "Argument 'first' on Field 'locations' has an invalid value (2147483648). Expected type 'Int'.")
        acceptance("{ locations(first: 2147483647) { nodes { id } } }")
    }

    @Test func enumLiteralOutOfRange() throws {
        let error = try #require(refusal("{ productVariants(first: 1, sortKey: BOGUS) { nodes { id } } }").first)
        #expect(error.code == "argumentLiteralsIncompatible")
        #expect(
            error.message
                == "Argument 'sortKey' on Field 'productVariants' has an invalid value (BOGUS). Expected type 'ProductVariantSortKeys'."
        )
        // A string is not an enum value.
        #expect(refusal(#"{ productVariants(first: 1, sortKey: "SKU") { nodes { id } } }"#).count == 1)
    }

    @Test func nullForNonNullArgument() throws {
        let error = try #require(refusal("{ inventoryItem(id: null) { id } }").first)
        #expect(error.message == "Argument 'id' on Field 'inventoryItem' has an invalid value (null). Expected type 'ID!'.")
    }

    @Test func nonGlobalIDLiteral() throws {
        let error = try #require(refusal(#"{ inventoryItem(id: "42") { id } }"#).first)
        #expect(error.code == "argumentLiteralsIncompatible")
        #expect(error.message == "Invalid global id `42`")
        #expect(error.extras == ["typeName": "CoercionError"])
        acceptance(#"{ inventoryItem(id: "42") { id } }"#, validator: Fixtures.lenientValidator)
    }

    @Test func inputObjectLiteral() throws {
        let document = """
            mutation { inventorySetQuantities(input: {name: "available", quantities: [{inventoryItemId: "gid://shopify/InventoryItem/1", \
            locationId: "gid://shopify/Location/1", quantity: "5", changeFromQuantity: null}], bogus: 1}) \
            @idempotent(key: "k") { userErrors { message } } }
            """
        let errors = refusal(document)
        #expect(
            errors.map(\.code) == [
                "missingRequiredInputObjectAttribute", "argumentLiteralsIncompatible", "argumentNotAccepted",
            ])
        #expect(
            errors.map(\.message) == [
                "Argument 'reason' on InputObject 'InventorySetQuantitiesInput' is required. Expected type String!",
                #"Argument 'quantity' on InputObject 'InventoryQuantityInput' has an invalid value ("5"). Expected type 'Int!'."#,
                "InputObject 'InventorySetQuantitiesInput' doesn't accept argument 'bogus'",
            ])
        #expect(
            errors.map(\.path) == [
                ["mutation", "inventorySetQuantities", "input", "reason"],
                ["mutation", "inventorySetQuantities", "input", "quantities", 0, "quantity"],
                ["mutation", "inventorySetQuantities", "input", "bogus"],
            ])
        #expect(errors[0].locations == [at(1, 42)])
    }

    @Test func duplicateInputField() throws {
        let errors = refusal(
            #"mutation { inventorySetQuantities(input: {name: "a", name: "b", reason: "r", quantities: []}) @idempotent(key: "k") { userErrors { message } } }"#
        )
        #expect(errors.map(\.code) == ["inputFieldNotUnique"])
        #expect(errors.first?.message == #"There can be only one input field named "name""#)
    }

    @Test func fieldConflict() throws {
        let errors = refusal("{ shop { a: name a: id } }")
        let error = try #require(errors.first)
        #expect(error.code == "fieldConflict")
        #expect(error.message == "Field 'a' has a field conflict: name or id?")
        #expect(error.path == [])
        #expect(error.locations == [at(1, 10), at(1, 18)])
    }

    @Test func argumentConflict() throws {
        let errors = refusal("{ locations(first: 1) { nodes { id } } locations(first: 2) { nodes { id } } }")
        #expect(errors.map(\.message) == [#"Field 'locations' has an argument conflict: {first:"1"} or {first:"2"}?"#])
        // The same field twice with the same arguments merges.
        acceptance("{ locations(first: 1) { nodes { id } } locations(first: 1) { nodes { name } } }")
    }

    @Test func operationRoots() {
        #expect(refusal("subscription { shop { name } }").map(\.code) == ["missingSubscriptionConfiguration"])
        #expect(refusal("subscription { shop { name } }").first?.message == "Schema is not configured for subscriptions")
    }
}
