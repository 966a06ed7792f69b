import Foundation
import Testing

@testable import ShopifySchema

/// The real Admin API schema, loaded once for all tests: `$SHOPIFY_SCHEMA`, or the copy vendored with the module.
enum Fixtures {
    static let schemaURL = AdminSchema.defaultSchemaURL

    static let validator: SchemaValidator = {
        do {
            return try SchemaValidator(contentsOf: schemaURL)
        } catch {
            fatalError("cannot load the schema at \(schemaURL.path) (set SHOPIFY_SCHEMA): \(error)")
        }
    }()

    /// A validator accepting any string or integer as an ID (plain graphql-ruby behaviour).
    static let lenientValidator = SchemaValidator(
        schema: validator.schema, options: ValidationOptions(strictGlobalIDs: false))
}

/// The errors for a request that must be refused; records an issue if it is accepted.
func refusal(
    _ document: String, variables: JSONObject = [:], operationName: String? = nil,
    validator: SchemaValidator = Fixtures.validator, sourceLocation: Testing.SourceLocation = #_sourceLocation
) -> [GraphQLValidationError] {
    switch validator.validate(document: document, variables: variables, operationName: operationName) {
    case .success:
        Issue.record("expected the request to be refused", sourceLocation: sourceLocation)
        return []
    case .failure(let failure):
        return failure.errors
    }
}

/// The accepted request; records an issue (with the errors) if it is refused.
@discardableResult
func acceptance(
    _ document: String, variables: JSONObject = [:], operationName: String? = nil,
    validator: SchemaValidator = Fixtures.validator, sourceLocation: Testing.SourceLocation = #_sourceLocation
) -> ExecutableRequest? {
    switch validator.validate(document: document, variables: variables, operationName: operationName) {
    case .success(let request):
        return request
    case .failure(let failure):
        Issue.record("expected the request to be accepted, got:\n\(failure)", sourceLocation: sourceLocation)
        return nil
    }
}

/// Shorthand for a location.
func at(_ line: Int, _ column: Int) -> DocumentLocation {
    DocumentLocation(line: line, column: column)
}
