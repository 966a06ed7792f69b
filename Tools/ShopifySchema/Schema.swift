import Foundation

/// The kind of a GraphQL type, as introspection names it.
public enum TypeKind: String, Sendable {
    case scalar = "SCALAR"
    case object = "OBJECT"
    case interface = "INTERFACE"
    case union = "UNION"
    case enumeration = "ENUM"
    case inputObject = "INPUT_OBJECT"
    case list = "LIST"
    case nonNull = "NON_NULL"
}

/// A reference to a type, with its list and non-null wrappers: `[ID!]!` is `.nonNull(.list(.nonNull(.named("ID"))))`.
public indirect enum TypeRef: Sendable, Hashable, CustomStringConvertible {
    case named(String)
    case list(TypeRef)
    case nonNull(TypeRef)

    /// The innermost type name (graphql-ruby's `unwrap`).
    public var namedType: String {
        switch self {
        case .named(let name): return name
        case .list(let inner), .nonNull(let inner): return inner.namedType
        }
    }

    public var isNonNull: Bool {
        if case .nonNull = self { return true }
        return false
    }

    /// True for a list type, seen through one non-null wrapper (graphql-ruby's `list?`).
    public var isList: Bool {
        switch self {
        case .list: return true
        case .nonNull(let inner): return inner.isList
        case .named: return false
        }
    }

    /// The type one wrapper in (`of_type`); a named type returns itself.
    public var ofType: TypeRef {
        switch self {
        case .named: return self
        case .list(let inner), .nonNull(let inner): return inner
        }
    }

    /// The nullable form: strips one non-null wrapper.
    public var nullable: TypeRef {
        if case .nonNull(let inner) = self { return inner }
        return self
    }

    /// GraphQL type signature, e.g. `[ID!]!` (graphql-ruby's `to_type_signature`).
    public var description: String {
        switch self {
        case .named(let name): return name
        case .list(let inner): return "[\(inner)]"
        case .nonNull(let inner): return "\(inner)!"
        }
    }
}

/// An argument of a field or directive, or a field of an input object.
public struct InputValue: Sendable {
    public let name: String
    public let type: TypeRef
    /// The default as a GraphQL literal (`"false"`, `"ID"`, `"[]"`, `"null"`), nil when there is none.
    public let defaultValue: String?
    /// The default as JSON (enum values as strings), what variable coercion fills in for an omitted input field.
    public let defaultJSON: JSONValue?

    /// graphql-ruby's `default_value?`: an explicit `null` default counts as a default.
    public var hasDefault: Bool { defaultValue != nil }

    /// Non-null and without a default: the client must give it.
    public var isRequired: Bool { type.isNonNull && defaultValue == nil }

    public init(name: String, type: TypeRef, defaultValue: String?) {
        self.name = name
        self.type = type
        self.defaultValue = defaultValue
        self.defaultJSON = defaultValue.flatMap { Parser.parseConstant($0)?.constantJSON }
    }
}

/// A field of an object or interface type.
public final class FieldDefinition: Sendable {
    public let name: String
    public let arguments: [InputValue]
    public let type: TypeRef

    public init(name: String, arguments: [InputValue], type: TypeRef) {
        self.name = name
        self.arguments = arguments
        self.type = type
    }

    public func argument(named name: String) -> InputValue? {
        arguments.first { $0.name == name }
    }
}

/// A named type of the schema. Immutable; shared between threads.
public final class NamedType: Sendable {
    public let name: String
    public let kind: TypeKind
    /// Object and interface fields, by name, and their order.
    public let fields: [String: FieldDefinition]
    public let fieldNames: [String]
    /// Input object fields, in schema order.
    public let inputFields: [InputValue]
    private let inputFieldIndex: [String: Int]
    /// Enum values, in schema order.
    public let enumValues: [String]
    private let enumValueSet: Set<String>
    /// The object types this type can be: itself for an object, the implementations of an interface, the members
    /// of a union, nothing for other kinds.
    public let possibleTypes: Set<String>
    /// Interfaces an object or interface implements.
    public let interfaces: [String]

    public init(
        name: String, kind: TypeKind, fields: [FieldDefinition] = [], inputFields: [InputValue] = [],
        enumValues: [String] = [], possibleTypes: [String] = [], interfaces: [String] = []
    ) {
        self.name = name
        self.kind = kind
        self.fields = Dictionary(fields.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.fieldNames = fields.map(\.name)
        self.inputFields = inputFields
        self.inputFieldIndex = Dictionary(
            inputFields.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.enumValues = enumValues
        self.enumValueSet = Set(enumValues)
        self.possibleTypes = kind == .object ? [name] : Set(possibleTypes)
        self.interfaces = interfaces
    }

    public func inputField(named name: String) -> InputValue? {
        inputFieldIndex[name].map { inputFields[$0] }
    }

    public func hasEnumValue(_ name: String) -> Bool { enumValueSet.contains(name) }

    /// Scalars and enums: results without selections.
    public var isLeaf: Bool { kind == .scalar || kind == .enumeration }
    /// Objects, interfaces and unions: what fragments can be on.
    public var isComposite: Bool { kind == .object || kind == .interface || kind == .union }
    /// Objects and interfaces: types with fields (graphql-ruby's `kind.fields?`).
    public var hasFields: Bool { kind == .object || kind == .interface }
    /// Scalars, enums and input objects: what variables can be.
    public var isInputType: Bool { kind == .scalar || kind == .enumeration || kind == .inputObject }
}

/// Where a directive may appear, as introspection names the locations.
public struct DirectiveDefinition: Sendable {
    public let name: String
    /// Locations (`FIELD`, `QUERY`, `FRAGMENT_SPREAD`, ...), in schema order.
    public let locations: [String]
    public let arguments: [InputValue]
    /// Introspection's `isRepeatable`; false when the introspection result does not say (Shopify's does not).
    public let isRepeatable: Bool

    public init(name: String, locations: [String], arguments: [InputValue], isRepeatable: Bool) {
        self.name = name
        self.locations = locations
        self.arguments = arguments
        self.isRepeatable = isRepeatable
    }

    public func argument(named name: String) -> InputValue? {
        arguments.first { $0.name == name }
    }
}

/// A GraphQL schema built from an introspection result: compact, immutable and `Sendable`.
public struct Schema: Sendable {
    public let types: [String: NamedType]
    public let directives: [String: DirectiveDefinition]
    public let queryTypeName: String?
    public let mutationTypeName: String?
    public let subscriptionTypeName: String?

    /// `__typename`, which every composite type has.
    static let typenameField = FieldDefinition(name: "__typename", arguments: [], type: .nonNull(.named("String")))
    /// `__schema` and `__type(name:)`, the query root's introspection entry points.
    static let schemaField = FieldDefinition(name: "__schema", arguments: [], type: .nonNull(.named("__Schema")))
    static let typeField = FieldDefinition(
        name: "__type", arguments: [InputValue(name: "name", type: .nonNull(.named("String")), defaultValue: nil)],
        type: .named("__Type"))

    public init(
        types: [String: NamedType], directives: [String: DirectiveDefinition], queryTypeName: String?,
        mutationTypeName: String?, subscriptionTypeName: String?
    ) {
        self.types = types
        self.directives = directives
        self.queryTypeName = queryTypeName
        self.mutationTypeName = mutationTypeName
        self.subscriptionTypeName = subscriptionTypeName
    }

    public func type(named name: String) -> NamedType? { types[name] }

    /// The root type of an operation, nil when the schema does not support that operation.
    public func rootType(for operation: OperationType) -> NamedType? {
        let name: String?
        switch operation {
        case .query: name = queryTypeName
        case .mutation: name = mutationTypeName
        case .subscription: name = subscriptionTypeName
        }
        return name.flatMap { types[$0] }
    }

    /// The field `name` of `owner`, including the introspection fields graphql-ruby adds: `__typename` anywhere,
    /// `__schema` and `__type` on the query root.
    public func field(on owner: NamedType, named name: String) -> FieldDefinition? {
        if let field = owner.fields[name] { return field }
        if name.hasPrefix("__") {
            switch name {
            case "__typename": return Self.typenameField
            case "__schema" where owner.name == queryTypeName: return Self.schemaField
            case "__type" where owner.name == queryTypeName: return Self.typeField
            default: return nil
            }
        }
        return nil
    }
}
