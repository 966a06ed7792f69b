import Foundation
import Synchronization

/// Knobs for Shopify-specific strictness.
public struct ValidationOptions: Sendable {
    /// Refuse `ID` values that are not global IDs (`gid://shopify/Product/1`), as Shopify's Admin API does
    /// ("Invalid global id `...`"). Turn off to accept any string or integer, as plain graphql-ruby does.
    public var strictGlobalIDs: Bool
    /// How many distinct documents to keep parsed and validated. The oldest is dropped when full.
    public var documentCacheCapacity: Int

    public init(strictGlobalIDs: Bool = true, documentCacheCapacity: Int = 256) {
        self.strictGlobalIDs = strictGlobalIDs
        self.documentCacheCapacity = max(1, documentCacheCapacity)
    }
}

/// A request that passed validation: the operation to run and its coerced variables.
public struct ExecutableRequest: Sendable {
    public let document: Document
    public let operation: OperationDefinition
    /// The variables after coercion: given values (`ID` integers as strings, single values wrapped in lists,
    /// input object field defaults filled in) plus the defaults of variables not given.
    public let variables: JSONObject
}

/// Validates GraphQL requests against a schema the way Shopify's server does, in Shopify's order: a syntax error
/// alone; else an operation-name error alone; else the static validation errors; else the variable errors.
///
/// Parsing and static validation depend only on the document text and are cached per text, so a document seen
/// before costs only the operation lookup and the coercion of its variables. Safe to share between threads.
public final class SchemaValidator: Sendable {
    public let schema: Schema
    public let options: ValidationOptions
    private let scalars: ScalarRules
    private let cache: Mutex<DocumentCache>

    public init(schema: Schema, options: ValidationOptions = ValidationOptions()) {
        self.schema = schema
        self.options = options
        self.scalars = ScalarRules(strictGlobalIDs: options.strictGlobalIDs)
        self.cache = Mutex(DocumentCache(capacity: options.documentCacheCapacity))
    }

    /// Loads the schema (introspection JSON, gzip-compressed or not) and makes a validator for it.
    public convenience init(contentsOf url: URL, options: ValidationOptions = ValidationOptions()) throws {
        self.init(schema: try Schema.load(contentsOf: url), options: options)
    }

    /// Validates a request. `variables` is the request's `variables` object (keep its key order by parsing it with
    /// `JSONValue.parse`, so that problems are listed in the client's order).
    public func validate(
        document: String, variables: JSONObject = [:], operationName: String? = nil
    ) -> Result<ExecutableRequest, GraphQLValidationFailure> {
        let prepared = prepare(document)
        let parsed: Document
        switch prepared.parsed {
        case .failure(let error): return .failure(GraphQLValidationFailure(errors: [error]))
        case .success(let document): parsed = document
        }
        // graphql-ruby's `find_operation`: operations are keyed by name (the last of a name wins, all anonymous
        // ones share one key); without a name, the only operation is taken, or else the anonymous one.
        var selected: OperationDefinition?
        if !prepared.operations.isEmpty {
            if operationName == nil && prepared.operations.count == 1 {
                selected = prepared.operations.first?.value
            } else {
                selected = prepared.operations[operationName]
            }
            if selected == nil {
                let message = operationName.map { "No operation named \"\($0)\"" } ?? "An operation name is required"
                return .failure(GraphQLValidationFailure(errors: [GraphQLValidationError(message: message, locations: [])]))
            }
        }
        if !prepared.staticErrors.isEmpty { return .failure(GraphQLValidationFailure(errors: prepared.staticErrors)) }
        guard let operation = selected else {
            // Unreachable: a document without operations always has a static error (an unused fragment, a type
            // definition). Kept so that the function is total.
            let error = GraphQLValidationError(message: "The document has no operation", locations: [])
            return .failure(GraphQLValidationFailure(errors: [error]))
        }
        let coercer = VariableCoercer(schema: schema, scalars: scalars)
        let (coerced, errors) = coercer.coerce(variables, for: operation)
        if !errors.isEmpty { return .failure(GraphQLValidationFailure(errors: errors)) }
        return .success(ExecutableRequest(document: parsed, operation: operation, variables: coerced))
    }

    /// Validates a request whose variables are Foundation values (what `JSONSerialization` returns, or a
    /// `[String: Any]` of Swift values). Keys are taken in sorted order. Values that are not JSON are refused with
    /// an error that has no Shopify equivalent (Shopify only ever receives JSON).
    public func validate(
        document: String, variables: [String: Any]?, operationName: String? = nil
    ) -> Result<ExecutableRequest, GraphQLValidationFailure> {
        guard let object = JSONObject(any: variables ?? [:]) else {
            let error = GraphQLValidationError(message: "Variables are not JSON values", locations: [])
            return .failure(GraphQLValidationFailure(errors: [error]))
        }
        return validate(document: document, variables: object, operationName: operationName)
    }

    /// The parsed and statically validated document, from the cache or made now. Made outside the lock, so a
    /// slow new document does not hold up requests for cached ones; two threads may both make a new document
    /// once, which is harmless.
    func prepare(_ text: String) -> PreparedDocument {
        if let cached = cache.withLock({ $0.entries[text] }) { return cached }
        let prepared = PreparedDocument(text: text, schema: schema, scalars: scalars)
        cache.withLock { $0.insert(prepared, for: text) }
        return prepared
    }

    /// Number of documents currently cached.
    public var cachedDocumentCount: Int { cache.withLock { $0.entries.count } }
}

/// A document parsed and statically validated once.
final class PreparedDocument: Sendable {
    let parsed: Result<Document, GraphQLValidationError>
    /// Operations by name (nil for anonymous ones), the last definition of a name winning.
    let operations: [String?: OperationDefinition]
    let staticErrors: [GraphQLValidationError]

    init(text: String, schema: Schema, scalars: ScalarRules) {
        do {
            let document = try Parser.parse(text)
            parsed = .success(document)
            var operations: [String?: OperationDefinition] = [:]
            for operation in document.operations { operations[operation.name] = operation }
            self.operations = operations
            staticErrors = StaticValidator(schema: schema, document: document, scalars: scalars).validate()
        } catch {
            parsed = .failure(GraphQLValidationError(message: error.message, locations: error.location.map { [$0] } ?? []))
            operations = [:]
            staticErrors = []
        }
    }
}

/// A bounded cache of prepared documents; drops the oldest entry when full.
struct DocumentCache {
    let capacity: Int
    var entries: [String: PreparedDocument] = [:]
    private var order: [String] = []
    private var head = 0

    init(capacity: Int) { self.capacity = capacity }

    mutating func insert(_ document: PreparedDocument, for text: String) {
        guard entries.updateValue(document, forKey: text) == nil else { return }
        order.append(text)
        if entries.count > capacity {
            entries[order[head]] = nil
            head += 1
            if head > capacity {  // compact now and then
                order.removeFirst(head)
                head = 0
            }
        }
    }
}

/// Shopify Admin API validation with the process-wide default schema.
public enum AdminSchema {
    /// `$SHOPIFY_SCHEMA`, or the Admin API 2026-04 introspection result vendored with this module
    /// (`Resources/admin_2026-04.json.gz`; its source is in `Resources/SOURCE.md`).
    public static var defaultSchemaURL: URL {
        if let path = ProcessInfo.processInfo.environment["SHOPIFY_SCHEMA"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        return vendoredSchemaURL
    }

    /// The vendored Admin API 2026-04 schema.
    public static var vendoredSchemaURL: URL {
        Bundle.module.url(forResource: "admin_2026-04.json", withExtension: "gz")
            ?? Bundle.module.bundleURL.appendingPathComponent("admin_2026-04.json.gz")
    }

    private static let shared: Result<SchemaValidator, SchemaLoadError> = Result {
        () throws(SchemaLoadError) -> SchemaValidator in
        do {
            return try SchemaValidator(contentsOf: defaultSchemaURL)
        } catch let error as SchemaLoadError {
            throw error
        } catch {
            throw SchemaLoadError(message: "\(defaultSchemaURL.path): \(error)")
        }
    }

    /// The validator for the default schema, loaded on first use.
    public static func sharedValidator() throws(SchemaLoadError) -> SchemaValidator {
        try shared.get()
    }

    /// Validates a request against the default schema; throws only if that schema cannot be loaded.
    public static func validate(
        document: String, variables: JSONObject = [:], operationName: String? = nil
    ) throws(SchemaLoadError) -> Result<ExecutableRequest, GraphQLValidationFailure> {
        try sharedValidator().validate(document: document, variables: variables, operationName: operationName)
    }
}
