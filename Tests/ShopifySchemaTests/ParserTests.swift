import Testing

@testable import ShopifySchema

@Suite("Parser")
struct ParserTests {
    @Test func parsesEveryExecutableConstruct() throws {
        let text = """
            # A comment, and commas as whitespace
            query Everything($id: ID! = "gid://shopify/Product/1" @deprecated, $ids: [ID!], $n: Int = -12,
                             $f: Float = 1.5e3, $b: Boolean = false, $o: ProductInput = {title: "x", tags: ["a", "b"]}) @skip(if: false) {
              alias: product(id: $id) { id ...Fields ... on Product { title } ... @include(if: true) { handle } }
              nodes(ids: $ids) { id }
            }
            fragment Fields on Product @skip(if: false) { description(truncateAt: 10) }
            mutation { shop { name } }
            { shop { id } }
            subscription Updates { shop { id } }
            """
        let document = try Parser.parse(text)
        #expect(document.operations.map(\.operationType) == [.query, .mutation, .query, .subscription])
        #expect(document.operations.map(\.name) == ["Everything", nil, nil, "Updates"])
        #expect(document.fragments.map(\.name) == ["Fields"])

        let query = try #require(document.operations.first)
        #expect(query.location == at(2, 1))
        #expect(query.variableDefinitions.map(\.name) == ["id", "ids", "n", "f", "b", "o"])
        #expect(query.variableDefinitions.map(\.type.description) == ["ID!", "[ID!]", "Int", "Float", "Boolean", "ProductInput"])
        #expect(query.variableDefinitions[0].directives.map(\.name) == ["deprecated"])
        #expect(query.variableDefinitions[2].defaultValue?.printed == "-12")
        #expect(query.variableDefinitions[3].defaultValue?.printed == "1500.0")
        #expect(query.variableDefinitions[5].defaultValue?.printed == #"{title: "x", tags: ["a", "b"]}"#)
        #expect(query.directives.map(\.name) == ["skip"])

        guard case .field(let product) = query.selections.first else {
            Issue.record("expected a field")
            return
        }
        #expect(product.alias == "alias")
        #expect(product.name == "product")
        #expect(product.location == at(4, 3))
        #expect(product.arguments.map(\.value.printed) == ["$id"])
        #expect(product.selections.count == 4)
        if case .inlineFragment(let inline) = product.selections[3] {
            #expect(inline.typeCondition == nil)
            #expect(inline.directives.map(\.name) == ["include"])
        } else {
            Issue.record("expected an inline fragment")
        }
    }

    @Test func stringsAndBlockStrings() throws {
        let text = #"""
            { a(s: "tab\tquote\" unicode \u00e9 \u{1F600} pair \ud83d\ude00", b: """
                Hello,
                  World!
                Escaped \""" end
            """) }
            """#
        let document = try Parser.parse(text)
        guard case .field(let field) = document.operations.first?.selections.first else {
            Issue.record("expected a field")
            return
        }
        guard case .string(let s) = field.arguments[0].value.kind, case .string(let block) = field.arguments[1].value.kind
        else {
            Issue.record("expected strings")
            return
        }
        #expect(s == "tab\tquote\" unicode é 😀 pair 😀")
        #expect(block == "Hello,\n  World!\nEscaped \"\"\" end")
    }

    @Test func syntaxErrorsHaveGraphQLRubyMessagesAndLocations() {
        func parseError(_ text: String) -> GraphQLValidationError? {
            let errors = refusal(text)
            #expect(errors.count == 1)
            #expect(errors.first?.code == nil)
            #expect(errors.first?.path == nil)
            return errors.first
        }
        let unclosed = parseError("query {\n  shop {\n    name(\n  }\n}")
        #expect(unclosed?.message == #"Expected NAME, actual: RCURLY ("}") at [4, 3]"#)
        #expect(unclosed?.locations == [at(4, 3)])
        #expect(
            unclosed?.jsonValue.jsonString
                == #"{"message":"Expected NAME, actual: RCURLY (\"}\") at [4, 3]","locations":[{"line":4,"column":3}]}"#)

        #expect(parseError("query { shop { name }")?.message == "Expected NAME, not end of file at [1, 21]")
        #expect(
            parseError("query { shop { name } } }")?.message
                == #"Expected one of SCHEMA, SCALAR, TYPE, ENUM, INPUT, UNION, INTERFACE, actual: RCURLY ("}") at [1, 25]"#)
        #expect(parseError("{ shop { name(x: ) } }")?.message == #"Expected VALUE, actual: RPAREN (")") at [1, 18]"#)
        #expect(parseError("{ shop { name() } }")?.message == #"Expected ARGUMENT_NAME, actual: RPAREN (")") at [1, 15]"#)
        #expect(parseError("query Q($a) { shop { id } }")?.message == #"Expected COLON, actual: RPAREN (")") at [1, 11]"#)
        #expect(
            parseError(#"{ a(s: "unterminated) }"#)?.message == "Expected string or block string, but it was malformed at [1, 8]")
        #expect(parseError("{ a(x: -z) }")?.message == #"Expected type 'number', but it was malformed: "-z". at [1, 8]"#)
        #expect(parseError("{ a ^ }")?.message == #"Expected NAME, actual: UNKNOWN_CHAR ("^") at [1, 5]"#)
        #expect(parseError("{ ..a }")?.message == #"Expected `...`, actual: "..a" at [1, 3]"#)
        #expect(parseError(#"{ a(s: "\uZZZZ") }"#)?.message == #"Bad unicode escape in "\\uZZZZ" at [1, 8]"#)
        #expect(parseError("query Q($a: []) { a }")?.message == #"Missing type definition for variable: $a at [1, 15]"#)
        #expect(
            parseError("foo { a }")?.message
                == #"Expected one of SCHEMA, SCALAR, TYPE, ENUM, INPUT, UNION, INTERFACE, actual: IDENTIFIER ("foo") at [1, 1]"#)
    }

    @Test func deepNestingIsRefusedNotCrashing() {
        let deep = String(repeating: "{ a ", count: 5_000) + String(repeating: "}", count: 5_000)
        let errors = refusal(deep)
        #expect(errors.map(\.message) == ["This query is too large to execute."])
        let deepValue = "{ a(x: " + String(repeating: "[", count: 5_000) + String(repeating: "]", count: 5_000) + ") }"
        #expect(refusal(deepValue).map(\.message) == ["This query is too large to execute."])
    }

    @Test func emptyDocument() {
        let errors = refusal("  # nothing but a comment\n")
        #expect(errors.map(\.message) == ["Unexpected end of document"])
        #expect(errors.first?.locations == [])
    }

    @Test func parseErrorComesAlone() {
        // Nothing else is checked once the document does not parse.
        #expect(refusal("query Q($x: Int) { nope ").count == 1)
    }

    @Test func columnsCountCharacters() throws {
        let errors = refusal(#"{ __type(name: "é") { name } nope }"#)
        #expect(errors.map(\.message) == ["Field 'nope' doesn't exist on type 'QueryRoot'"])
        #expect(errors.first?.locations == [at(1, 30)])
    }

    @Test func keywordsAreNames() throws {
        // `query`, `on`, `type`... are valid field, argument and fragment names and enum values.
        let document = try Parser.parse("query query { on: shop { type: name } } fragment fragment on Shop { id }")
        #expect(document.operations.first?.name == "query")
        #expect(document.fragments.first?.name == "fragment")
    }
}
