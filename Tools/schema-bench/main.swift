// Micro benchmark: schema load time, first validation of a document, and the cost of validating it again (cached
// parse and static validation, fresh variable coercion). Build in release for meaningful numbers:
//
//     swift run -c release schema-bench [path/to/admin.json.gz] [iterations]

import Foundation
import ShopifySchema

let arguments = CommandLine.arguments
let url = arguments.count > 1 ? URL(fileURLWithPath: arguments[1]) : AdminSchema.defaultSchemaURL
let iterations = arguments.count > 2 ? Int(arguments[2]) ?? 100_000 : 100_000

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

let clock = ContinuousClock()

// The exporter's inventory mutation (Services/exporter/Shopify/AdminAPIClient.swift) and realistic variables.
let document = """
    mutation StockwireSetQuantities($input: InventorySetQuantitiesInput!, $key: String!) { \
    inventorySetQuantities(input: $input) @idempotent(key: $key) { \
    inventoryAdjustmentGroup { reason referenceDocumentUri changes { name delta quantityAfterChange \
    item { id } location { id } } } userErrors { code field message } } }
    """
let variables: JSONObject = [
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
let foundationVariables: [String: Any] = [
    "input": [
        "name": "available", "reason": "correction", "referenceDocumentUri": "gid://stockwire/StockVersion/TEE/3",
        "quantities": [
            [
                "inventoryItemId": "gid://shopify/InventoryItem/1", "locationId": "gid://shopify/Location/1",
                "quantity": 5, "changeFromQuantity": 4,
            ] as [String: Any]
        ],
    ] as [String: Any],
    "key": "abc",
]

var validator: SchemaValidator!
let loadTime = try clock.measure { validator = try SchemaValidator(contentsOf: url) }
print(String(format: "schema load:                 %8.1f ms  (%d types)", seconds(loadTime) * 1e3, validator.schema.types.count))

var firstResult: Result<ExecutableRequest, GraphQLValidationFailure>!
let firstTime = clock.measure { firstResult = validator.validate(document: document, variables: variables) }
guard case .success = firstResult else { fatalError("document 1 did not validate: \(firstResult!)") }
print(String(format: "first validation (doc 1):    %8.1f µs", seconds(firstTime) * 1e6))

var failures = 0
let cachedTime = clock.measure {
    for _ in 0..<iterations {
        if case .failure = validator.validate(document: document, variables: variables) { failures += 1 }
    }
}
print(
    String(
        format: "cached validation (doc 1):   %8.2f µs/call  (JSONObject variables, %d calls)",
        seconds(cachedTime) * 1e6 / Double(iterations), iterations))

let foundationTime = clock.measure {
    for _ in 0..<iterations {
        if case .failure = validator.validate(document: document, variables: foundationVariables) { failures += 1 }
    }
}
print(
    String(
        format: "cached validation (doc 1):   %8.2f µs/call  ([String: Any] variables, %d calls)",
        seconds(foundationTime) * 1e6 / Double(iterations), iterations))

// Throughput with both cores hammering the shared validator (the cache lock is the contention point).
let threads = 2
let shared: SchemaValidator = validator
let parallelTime = clock.measure {
    DispatchQueue.concurrentPerform(iterations: threads) { _ in
        for _ in 0..<(iterations / threads) {
            _ = shared.validate(document: document, variables: variables)
        }
    }
}
print(
    String(
        format: "cached validation, %d threads: %7.2f µs/call wall", threads,
        seconds(parallelTime) * 1e6 / Double(iterations)))
if failures > 0 { fatalError("\(failures) cached validations failed") }
