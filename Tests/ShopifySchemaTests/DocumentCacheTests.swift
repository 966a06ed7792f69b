import Foundation
import Testing

@testable import ShopifySchema

/// The document cache stays within its capacity. (Load and validation times are measured by `schema-bench`, not
/// by a test: see BENCHMARKS.md.)
@Suite struct DocumentCacheTests {
    @Test func cacheIsBounded() {
        let validator = SchemaValidator(
            schema: Fixtures.validator.schema, options: ValidationOptions(documentCacheCapacity: 4))
        for i in 0..<10 {
            _ = validator.validate(document: "query Q\(i) { shop { name } }")
        }
        #expect(validator.cachedDocumentCount == 4)
    }
}
