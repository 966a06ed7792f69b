import Testing

@testable import ShopifySchema

/// Operations, fragments, directives and variable declarations.
@Suite("Static validation: operations, fragments, directives, variables")
struct DocumentRulesTests {
    // MARK: Operations

    @Test func twoAnonymousOperations() throws {
        let errors = refusal("{ shop { name } }\n{ shop { id } }")
        #expect(errors.count == 1)
        let error = try #require(errors.first)
        #expect(error.code == "uniquelyNamedOperations")
        #expect(error.message == "Operation name is required when multiple operations are present")
        #expect(error.locations == [at(1, 1), at(2, 1)])
        #expect(error.path == [])
    }

    @Test func duplicateOperationName() throws {
        let error = try #require(refusal("query A { shop { name } } query A { shop { id } }").first)
        #expect(error.message == #"Operation name "A" must be unique"#)
        #expect(error.extras == ["operationName": "A"])
    }

    @Test func severalOperationsNeedAnOperationName() throws {
        let document = "query A { shop { name } } query B { shop { id } }"
        let error = try #require(refusal(document).first)
        #expect(error.message == "An operation name is required")
        #expect(error.code == nil)
        #expect(error.jsonValue.jsonString == #"{"message":"An operation name is required"}"#)
        #expect(refusal(document, operationName: "C").first?.message == #"No operation named "C""#)
        let request = try #require(acceptance(document, operationName: "B"))
        #expect(request.operation.name == "B")
    }

    @Test func operationNameErrorComesBeforeStaticErrors() {
        // graphql-ruby picks the operation before validating: only the name error is reported.
        let errors = refusal("query A { nope } query B { nope }")
        #expect(errors.map(\.message) == ["An operation name is required"])
    }

    // MARK: Fragments

    @Test func unknownTypeCondition() throws {
        let error = try #require(
            refusal(#"{ nodes(ids: ["gid://shopify/Product/1"]) { ... on Produkt { id } } }"#).first)
        #expect(error.code == "undefinedType")
        #expect(error.message == "No such type Produkt, so it can't be a fragment condition")
        #expect(error.path == ["query", "nodes", "... on Produkt"])
        #expect(error.locations == [at(1, 45)])
    }

    @Test func fragmentOnScalar() throws {
        let error = try #require(refusal("{ shop { ...F } } fragment F on String { x }").first)
        #expect(error.code == "fragmentOnNonCompositeType")
        #expect(error.message == "Invalid fragment on type String (must be Union, Interface or Object)")
    }

    @Test func impossibleInlineFragment() throws {
        let error = try #require(refusal("{ shop { ... on Product { id } } }").first)
        #expect(error.code == "cannotSpreadFragment")
        #expect(error.message == "Fragment on Product can't be spread inside Shop")
        #expect(error.extras == ["typeName": "Product", "fragmentName": "unknown", "parentName": "Shop"])
    }

    @Test func impossibleFragmentSpread() throws {
        let error = try #require(refusal("{ shop { ...P } } fragment P on Product { id }").first)
        #expect(error.message == "Fragment P on Product can't be spread inside Shop")
        #expect(error.path == ["query", "shop", "... P"])
    }

    @Test func possibleSpreadsThroughInterfaces() {
        acceptance(
            """
            query { node(id: "gid://shopify/Product/1") { ...N ... on Product { title } } }
            fragment N on Node { id }
            """)
    }

    @Test func undefinedFragment() throws {
        let error = try #require(refusal("{ shop { ...Missing } }").first)
        #expect(error.code == "useAndDefineFragment")
        #expect(error.message == "Fragment Missing was used, but not defined")
        #expect(error.path == ["query", "shop", "... Missing"])
        #expect(error.locations == [at(1, 10)])
    }

    @Test func unusedFragment() throws {
        let error = try #require(refusal("{ shop { name } } fragment Unused on Shop { id }").first)
        #expect(error.code == "useAndDefineFragment")
        #expect(error.message == "Fragment Unused was defined, but not used")
        #expect(error.path == ["fragment Unused"])
    }

    @Test func undefinedThenUnusedFragments() {
        // graphql-ruby reports undefined spreads first (operations' together), then unused fragments.
        let errors = refusal("{ shop { ...A ...Missing } } fragment A on Shop { ...Missing2 id } fragment U on Shop { id }")
        #expect(
            errors.map(\.message) == [
                "Fragment Missing was used, but not defined", "Fragment Missing2 was used, but not defined",
                "Fragment U was defined, but not used",
            ])
        #expect(errors.map(\.path) == [["query", "shop", "... Missing"], ["fragment A", "... Missing2"], ["fragment U"]])
    }

    @Test func fragmentCycle() {
        let errors = refusal("{ shop { ...A } } fragment A on Shop { name ...B } fragment B on Shop { id ...A }")
        #expect(errors.map(\.code) == ["infiniteLoop", "infiniteLoop"])
        #expect(errors.map(\.message) == ["Fragment A contains an infinite loop", "Fragment B contains an infinite loop"])
    }

    @Test func duplicateFragmentName() throws {
        let errors = refusal("{ shop { ...F } } fragment F on Shop { id } fragment F on Shop { name }")
        #expect(errors.map(\.message) == [#"Fragment name "F" must be unique"#])
    }

    @Test func anonymousFragment() {
        let errors = refusal("{ shop { name } } fragment on Shop { id }")
        #expect(errors.map(\.code) == ["anonymousFragment"])
    }

    @Test func schemaDefinitionsAreRefused() {
        let errors = refusal("{ shop { name } } type Foo { bar: Int }")
        #expect(errors.map(\.code) == ["queryContainsSchemaDefinitions"])
        #expect(errors.first?.message == "Query cannot contain schema definitions")
        #expect(errors.first?.locations == [at(1, 19)])
    }

    // MARK: Directives

    @Test func undefinedDirective() throws {
        let error = try #require(refusal("{ shop { name @foo id @foo } }").first)
        #expect(error.code == "undefinedDirective")
        #expect(error.message == "Directive @foo is not defined")
        #expect(error.locations == [at(1, 15), at(1, 23)])  // one error for every use
    }

    @Test func directiveInTheWrongPlace() throws {
        let error = try #require(refusal(#"query @idempotent(key: "x") { shop { name } }"#).first)
        #expect(error.code == "directiveCannotBeApplied")
        #expect(error.message == "'@idempotent' can't be applied to queries (allowed: fields)")
        #expect(error.extras == ["targetName": "queries", "name": "idempotent"])
    }

    @Test func directiveMissingItsArgument() throws {
        let errors = refusal("mutation { inventorySetQuantities(input: $i) @idempotent { userErrors { message } } }")
        #expect(errors.map(\.code).contains("missingRequiredArguments"))
        let error = try #require(errors.first { $0.code == "missingRequiredArguments" })
        #expect(error.message == "Directive 'idempotent' is missing required arguments: key")
        #expect(error.extras["className"] == "Directive")
    }

    @Test func repeatedDirective() throws {
        let error = try #require(refusal("{ shop { name @skip(if: true) @skip(if: false) } }").first)
        #expect(error.code == "directiveNotUniqueForLocation")
        #expect(error.message == #"The directive "skip" can only be used once at this location."#)
        #expect(error.locations == [at(1, 15), at(1, 31)])
    }

    @Test func directiveArgumentOfTheWrongType() throws {
        let error = try #require(refusal(#"{ shop { name @include(if: "yes") } }"#).first)
        #expect(error.message == #"Argument 'if' on Directive 'include' has an invalid value ("yes"). Expected type 'Boolean!'."#)
        #expect(error.path == ["query", "shop", "name", "if"])
    }

    // MARK: Variable declarations

    @Test func unusedVariable() throws {
        let error = try #require(refusal("query Q($x: Int) { shop { name } }").first)
        #expect(error.code == "variableNotUsed")
        #expect(error.message == "Variable $x is declared by Q but not used")
        #expect(error.locations == [at(1, 1)])
        #expect(error.path == ["query Q"])
    }

    @Test func variableUsedOnlyInAFragmentIsUsed() {
        acceptance(
            "query Q($n: Int!) { ...L } fragment L on QueryRoot { locations(first: $n) { nodes { id } } }",
            variables: ["n": 3])
    }

    @Test func variableUsedInAFragmentMustBeDeclaredByEveryOperationSpreadingIt() {
        let errors = refusal(
            "query A($x: Int) { ...F } query B { ...F } fragment F on QueryRoot { locations(first: $x) { nodes { id } } }",
            operationName: "A")
        #expect(errors.map(\.message) == ["Variable $x is used by F but not declared"])
        #expect(errors.first?.path == ["fragment F", "locations", "first"])
    }

    @Test func undefinedVariable() throws {
        let error = try #require(refusal("query Q { locations(first: $n) { nodes { id } } }").first)
        #expect(error.code == "variableNotDefined")
        #expect(error.message == "Variable $n is used by Q but not declared")
        #expect(error.locations == [at(1, 28)])
        #expect(error.path == ["query Q", "locations", "first"])
    }

    @Test func variableTypeMismatch() throws {
        let error = try #require(refusal("query Q($first: String) { locations(first: $first) { nodes { id } } }").first)
        #expect(error.code == "variableMismatch")
        #expect(error.message == "Type mismatch on variable $first and argument first (String / Int)")
        #expect(error.path == ["query Q", "locations", "first"])
        #expect(
            error.extras == [
                "variableName": "first", "typeName": "String", "argumentName": "first", "errorMessage": "Type mismatch",
            ])
    }

    @Test func variableNullabilityAndListDimension() {
        #expect(
            refusal(#"query Q($ids: [ID]) { nodes(ids: $ids) { id } }"#).map(\.message)
                == ["Nullability mismatch on variable $ids and argument ids ([ID] / [ID!]!)"])
        #expect(
            refusal(#"query Q($id: ID!) { nodes(ids: $id) { id } }"#).map(\.message)
                == ["List dimension mismatch on variable $id and argument ids (ID! / [ID!]!)"])
        // Inside a list literal, a variable stands for one item.
        acceptance(#"query Q($id: ID!) { nodes(ids: [$id]) { id } }"#, variables: ["id": "gid://shopify/Product/1"])
        #expect(
            refusal(#"query Q($id: ID) { nodes(ids: [$id]) { id } }"#).map(\.message)
                == ["Nullability mismatch on variable $id and argument ids ([ID]! / [ID!]!)"])
    }

    @Test func nullableVariableWithDefaultIntoNonNullPosition() {
        acceptance(#"query Q($id: ID = "gid://shopify/InventoryItem/1") { inventoryItem(id: $id) { id } }"#)
        acceptance("query Q($id: ID!) { inventoryItem(id: $id) { id } }", variables: ["id": "gid://shopify/InventoryItem/1"])
        #expect(
            refusal("query Q($id: ID) { inventoryItem(id: $id) { id } }").map(\.message)
                == ["Nullability mismatch on variable $id and argument id (ID / ID!)"])
    }

    @Test func variableOfUnknownOrOutputType() {
        #expect(
            refusal("query Q($x: Nope) { locations(first: 1) { nodes { id } } }").map(\.message).prefix(1)
                == ["Nope isn't a defined input type (on $x)"])
        #expect(
            refusal("query Q($x: Shop) { locations(first: 1) { nodes { id } } }").map(\.code).first
                == "variableRequiresValidType")
    }

    @Test func duplicateVariable() throws {
        let error = try #require(refusal("query Q($n: Int, $n: Int) { locations(first: $n) { nodes { id } } }").first)
        #expect(error.code == "variableNotUnique")
        #expect(error.message == #"There can only be one variable named "n""#)
    }

    @Test func badVariableDefault() throws {
        let error = try #require(refusal(#"query Q($n: Int = "ten") { locations(first: $n) { nodes { id } } }"#).first)
        #expect(error.code == "defaultValueInvalidType")
        #expect(error.message == #"Could not coerce value "ten" to Int"#)
    }
}
