import Foundation
import Testing

@testable import ShopifySchema

/// JSON, gzip, formatting helpers, schema loading and concurrent use.
@Suite("Support")
struct SupportTests {
    @Test func jsonParsingKeepsKeyOrderAndNumberKinds() throws {
        let value = try JSONValue.parse(
            #"{"b": 1, "a": [1.0, -2, 1e3, 9223372036854775808], "c": {"z": null, "y": "\u00e9\n"}, "d": true}"#)
        guard case .object(let object) = value else {
            Issue.record("expected an object")
            return
        }
        #expect(object.keys == ["b", "a", "c", "d"])
        #expect(object["a"] == [.double(1.0), .int(-2), .double(1000), .double(9_223_372_036_854_775_808)])
        #expect(object["c"] == ["z": nil, "y": "é\n"])
        #expect(value.jsonString == #"{"b":1,"a":[1.0,-2,1000.0,9.223372036854776e+18],"c":{"z":null,"y":"é\n"},"d":true}"#)
        #expect(throws: JSONParseError.self) { try JSONValue.parse("{\"a\": }") }
        #expect(throws: JSONParseError.self) { try JSONValue.parse("[1,]") }
        #expect(throws: JSONParseError.self) { try JSONValue.parse("01") }
    }

    @Test func problemsFollowTheClientsKeyOrder() throws {
        let variables = try JSONValue.parse(
            #"{"key": "k", "input": {"quantities": [{"quantity": "1", "inventoryItemId": 7}], "bogus": 1}}"#)
        guard case .object(let object) = variables else { return }
        let errors = refusal(ExporterDocumentsTests.setQuantitiesMutation, variables: object)
        #expect(
            errors.first?.message
                == "Variable $input of type InventorySetQuantitiesInput! was provided invalid value for quantities.0.quantity (Could not coerce value \"1\" to Int), quantities.0.inventoryItemId (Invalid global id `7`), quantities.0.locationId (Expected value to not be null), bogus (Field is not defined on InventorySetQuantitiesInput), reason (Expected value to not be null), name (Expected value to not be null)"
        )
    }

    @Test func foundationValuesConvert() throws {
        let parsed = try JSONSerialization.jsonObject(with: Data(#"{"t": true, "i": 1, "d": 1.5, "n": null, "s": "x"}"#.utf8))
        let value = try #require(JSONValue(any: parsed))
        #expect(value == ["d": 1.5, "i": 1, "n": nil, "s": "x", "t": true])
        #expect(JSONValue(any: ["a": 1, "b": [true, NSNull()]] as [String: Any]) == ["a": 1, "b": [true, nil]])
        #expect(JSONValue(any: Date()) == nil)
    }

    @Test func gzipRoundTrip() throws {
        #expect(throws: GzipError.self) { try gunzip(Data("not gzip".utf8)) }
        let compressed = try Data(contentsOf: Fixtures.schemaURL)
        let inflated = try gunzip(compressed)
        #expect(inflated.count > compressed.count * 5)
        #expect(inflated.prefix(1) == Data("{".utf8))
    }

    @Test func schemaLoadsFromPlainJSONToo() throws {
        let json =
            #"{"__schema": {"queryType": {"name": "Q"}, "mutationType": null, "subscriptionType": null, "directives": [], "types": [{"kind": "OBJECT", "name": "Q", "fields": [{"name": "a", "args": [], "type": {"kind": "SCALAR", "name": "String"}}]}, {"kind": "SCALAR", "name": "String"}]}}"#
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("schema-\(UUID().uuidString).json")
        try Data(json.utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let validator = try SchemaValidator(contentsOf: url)
        #expect(validator.schema.types.count == 2)
        acceptance("{ a }", validator: validator)
        #expect(refusal("mutation { a }", validator: validator).map(\.message) == ["Schema is not configured for mutations"])
        #expect(throws: SchemaLoadError.self) { try Schema.load(introspectionJSON: Data("{}".utf8)) }
    }

    @Test func theShopifySchemaIsWhatTheToolkitPublished() throws {
        let schema = Fixtures.validator.schema
        #expect(schema.queryTypeName == "QueryRoot")
        #expect(schema.mutationTypeName == "Mutation")
        #expect(schema.subscriptionTypeName == nil)
        let idempotent = try #require(schema.directives["idempotent"])
        #expect(idempotent.locations == ["FIELD"])
        #expect(idempotent.arguments.map(\.type) == [.nonNull(.named("String"))])
        let quantity = try #require(schema.type(named: "InventoryQuantityInput"))
        #expect(quantity.inputField(named: "changeFromQuantity")?.type == .named("Int"))
        #expect(
            schema.type(named: "InventorySetQuantitiesInput")?.inputField(named: "referenceDocumentUri")?.type
                == .named("String"))
    }

    @Test func rubyFormatting() {
        #expect(rubyFloatString(1) == "1.0")
        #expect(rubyFloatString(0.1) == "0.1")
        #expect(rubyFloatString(1e20) == "1.0e+20")
        #expect(rubyFloatString(1e15) == "1000000000000000.0")
        #expect(rubyFloatString(1.5e-5) == "1.5e-05")
        #expect(rubyFloatString(-0.0001) == "-0.0001")
        #expect(rubyInspect("a\"b\\c\n#{x}") == ##""a\"b\\c\n\#{x}""##)
    }

    @Test func concurrentValidationSharesTheCache() async {
        let validator = SchemaValidator(schema: Fixtures.validator.schema)
        let documents = (0..<8).map { "query Q\($0)($first: Int!) { locations(first: $first) { nodes { id } } }" }
        let accepted = await withTaskGroup(of: Int.self) { group in
            for task in 0..<16 {
                group.addTask {
                    var count = 0
                    for i in 0..<200 {
                        let document = documents[(task + i) % documents.count]
                        if case .success = validator.validate(document: document, variables: ["first": .int(i)]) {
                            count += 1
                        }
                    }
                    return count
                }
            }
            return await group.reduce(0, +)
        }
        #expect(accepted == 16 * 200)
        #expect(validator.cachedDocumentCount == documents.count)
    }
}
