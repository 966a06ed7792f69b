/// The syntax tree of a GraphQL executable document (GraphQL spec, October 2021, section 2).
///
/// Nodes are immutable and `Sendable`, so one parsed document can be cached and shared by all threads. Every node
/// keeps the line and column of its first token, which is where graphql-ruby reports errors about it.

/// A line and column in the document text, both counted from 1; columns count characters.
public struct DocumentLocation: Sendable, Hashable, Codable, CustomStringConvertible {
    public let line: Int
    public let column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public var description: String { "\(line):\(column)" }
}

public enum OperationType: String, Sendable {
    case query, mutation, subscription
}

/// A whole document: operations and fragments, plus any type-system definitions (which parse, but which
/// validation refuses, as graphql-ruby does).
public struct Document: Sendable {
    public let definitions: [Definition]

    public init(definitions: [Definition]) { self.definitions = definitions }

    public var operations: [OperationDefinition] {
        definitions.compactMap { if case .operation(let op) = $0 { op } else { nil } }
    }

    public var fragments: [FragmentDefinition] {
        definitions.compactMap { if case .fragment(let fragment) = $0 { fragment } else { nil } }
    }
}

public enum Definition: Sendable {
    case operation(OperationDefinition)
    case fragment(FragmentDefinition)
    /// A schema, type, directive or extension definition: kept only to be reported.
    case typeSystem(TypeSystemDefinition)
}

public final class OperationDefinition: Sendable {
    public let operationType: OperationType
    /// Nil for anonymous operations, including the `{ ... }` shorthand.
    public let name: String?
    public let variableDefinitions: [VariableDefinition]
    public let directives: [Directive]
    public let selections: [Selection]
    public let location: DocumentLocation

    public init(
        operationType: OperationType, name: String?, variableDefinitions: [VariableDefinition],
        directives: [Directive], selections: [Selection], location: DocumentLocation
    ) {
        self.operationType = operationType
        self.name = name
        self.variableDefinitions = variableDefinitions
        self.directives = directives
        self.selections = selections
        self.location = location
    }
}

public final class FragmentDefinition: Sendable {
    /// Nil only for `fragment on T { ... }`, which graphql-ruby parses and then refuses in validation.
    public let name: String?
    public let typeCondition: String
    public let directives: [Directive]
    public let selections: [Selection]
    public let location: DocumentLocation

    public init(
        name: String?, typeCondition: String, directives: [Directive], selections: [Selection],
        location: DocumentLocation
    ) {
        self.name = name
        self.typeCondition = typeCondition
        self.directives = directives
        self.selections = selections
        self.location = location
    }
}

public struct TypeSystemDefinition: Sendable {
    /// What it defines, e.g. "type", "extend type", "directive".
    public let kind: String
    public let location: DocumentLocation
}

public struct VariableDefinition: Sendable {
    public let name: String
    /// The declared type, e.g. `.nonNull(.named("InventorySetQuantitiesInput"))`.
    public let type: TypeRef
    public let defaultValue: Value?
    public let directives: [Directive]
    /// The `$` of the definition.
    public let location: DocumentLocation
}

public enum Selection: Sendable {
    case field(Field)
    case inlineFragment(InlineFragment)
    case fragmentSpread(FragmentSpread)
}

public final class Field: Sendable {
    public let alias: String?
    public let name: String
    public let arguments: [Argument]
    public let directives: [Directive]
    /// Empty when the field has no selection set.
    public let selections: [Selection]
    /// The first token: the alias when there is one.
    public let location: DocumentLocation

    public init(
        alias: String?, name: String, arguments: [Argument], directives: [Directive], selections: [Selection],
        location: DocumentLocation
    ) {
        self.alias = alias
        self.name = name
        self.arguments = arguments
        self.directives = directives
        self.selections = selections
        self.location = location
    }

    /// The key of this field in the response: its alias, or its name.
    public var responseKey: String { alias ?? name }
}

public final class InlineFragment: Sendable {
    public let typeCondition: String?
    public let directives: [Directive]
    public let selections: [Selection]
    /// The `...`.
    public let location: DocumentLocation

    public init(typeCondition: String?, directives: [Directive], selections: [Selection], location: DocumentLocation) {
        self.typeCondition = typeCondition
        self.directives = directives
        self.selections = selections
        self.location = location
    }
}

public final class FragmentSpread: Sendable {
    public let name: String
    public let directives: [Directive]
    /// The `...`.
    public let location: DocumentLocation

    public init(name: String, directives: [Directive], location: DocumentLocation) {
        self.name = name
        self.directives = directives
        self.location = location
    }
}

/// An argument of a field or directive, or a field of an input object literal.
public struct Argument: Sendable {
    public let name: String
    public let value: Value
    /// The argument's name.
    public let location: DocumentLocation
}

public struct Directive: Sendable {
    public let name: String
    public let arguments: [Argument]
    /// The `@`.
    public let location: DocumentLocation
}

/// A value literal.
public struct Value: Sendable {
    public enum Kind: Sendable {
        case variable(String)
        /// The literal's text; it may be out of any integer range (graphql-ruby keeps big integers).
        case int(String)
        case float(String)
        case string(String)
        case boolean(Bool)
        case null
        case enumValue(String)
        case list([Value])
        /// Input object literal `{name: value, ...}`, fields in document order.
        case object([Argument])
    }

    public let kind: Kind
    public let location: DocumentLocation

    public init(kind: Kind, location: DocumentLocation) {
        self.kind = kind
        self.location = location
    }

    /// True when no variable occurs anywhere in the value.
    public var isConstant: Bool {
        switch kind {
        case .variable: return false
        case .list(let items): return items.allSatisfy(\.isConstant)
        case .object(let fields): return fields.allSatisfy(\.value.isConstant)
        default: return true
        }
    }
}
