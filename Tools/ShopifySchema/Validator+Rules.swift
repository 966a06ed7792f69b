/// Static-validation rules about operations, fields, directives and arguments. Each check names the graphql-ruby
/// rule (`lib/graphql/static_validation/rules/<rule>.rb`) whose message, code and extensions it reproduces.

/// What an argument belongs to: a field, a directive, or an input object (for input object literal fields).
enum ArgumentOwner {
    case field(FieldDefinition)
    case directive(DirectiveDefinition)
    case inputObject(NamedType)

    var arguments: [InputValue] {
        switch self {
        case .field(let field): return field.arguments
        case .directive(let directive): return directive.arguments
        case .inputObject(let type): return type.inputFields
        }
    }

    func argument(named name: String) -> InputValue? {
        switch self {
        case .field(let field): return field.argument(named: name)
        case .directive(let directive): return directive.argument(named: name)
        case .inputObject(let type): return type.inputField(named: name)
        }
    }
}

extension StaticValidator {
    /// Appends `location` to the group `name` (first-appearance order), for rules reporting duplicates.
    static func group(
        _ groups: inout [(name: String?, locations: [DocumentLocation])], _ name: String?, _ location: DocumentLocation
    ) {
        if let i = groups.firstIndex(where: { $0.name == name }) {
            groups[i].locations.append(location)
        } else {
            groups.append((name, [location]))
        }
    }

    // MARK: - Operations

    func recordOperationName(_ operation: OperationDefinition) {
        Self.group(&operationNames, operation.name, operation.location)
    }

    /// OperationNamesAreValid.
    func finishOperationNamesAreValid() {
        let count = operationNames.reduce(0) { $0 + $1.locations.count }
        for (name, locations) in operationNames {
            if name == nil && count > 1 {
                addError(
                    "Operation name is required when multiple operations are present", at: locations,
                    code: "uniquelyNamedOperations")
            } else if let name, locations.count > 1 {
                addError(
                    "Operation name \"\(name)\" must be unique", at: locations, code: "uniquelyNamedOperations",
                    extras: ["operationName": .string(name)])
            }
        }
    }

    /// NoDefinitionsArePresent.
    func finishNoDefinitionsArePresent() {
        guard !schemaDefinitionLocations.isEmpty else { return }
        addError(
            "Query cannot contain schema definitions", at: schemaDefinitionLocations,
            code: "queryContainsSchemaDefinitions")
    }

    /// MutationRootExists, QueryRootExists, SubscriptionRootExistsAndSingleSubscriptionSelection.
    func checkRootTypeExists(_ operation: OperationDefinition) -> Bool {
        switch operation.operationType {
        case .mutation where schema.mutationTypeName == nil:
            addError("Schema is not configured for mutations", at: [operation.location], code: "missingMutationConfiguration")
            return false
        case .query where schema.queryTypeName == nil:
            addError("Schema is not configured for queries", at: [operation.location], code: "missingQueryConfiguration")
            return false
        case .subscription where schema.subscriptionTypeName == nil:
            addError(
                "Schema is not configured for subscriptions", at: [operation.location],
                code: "missingSubscriptionConfiguration")
            return false
        case .subscription where operation.selections.count != 1:
            addError(
                "A subscription operation may only have one selection", at: [operation.location],
                code: "notSingleSubscription")
            return false
        default:
            return true
        }
    }

    // MARK: - Fields and selections

    /// FieldsAreDefinedOnType. False stops the walk below the field.
    func checkFieldIsDefined(_ field: Field, parent: SelectionParent) -> Bool {
        guard let owner = parentObjectType else { return false }
        if currentFieldDefinition != nil { return true }
        if owner.kind == .union {
            addError(
                "Selections can't be made directly on unions (see selections on \(owner.name))",
                at: [parent.location], code: "selectionMismatch", extras: ["nodeName": .string(owner.name)])
        } else {
            addError(
                "Field '\(field.name)' doesn't exist on type '\(owner.name)'", at: [field.location],
                code: "undefinedField", extras: ["typeName": .string(owner.name), "fieldName": .string(field.name)])
        }
        return false
    }

    /// A node with a selection set, for FieldsHaveAppropriateSelections.
    enum SelectionOwner {
        case operation(OperationDefinition)
        case field(Field)
    }

    /// FieldsHaveAppropriateSelections: leaves take no selection set, objects and interfaces need one (graphql-ruby
    /// only logs a warning for a union without one). False stops the walk below the node.
    func checkSelections(of node: SelectionOwner, selections: [Selection]) -> Bool {
        guard let type = currentObjectType else { return true }
        let nodeName: String
        let fieldName: String
        let location: DocumentLocation
        switch node {
        case .operation(let operation):
            nodeName = operation.name.map { "\(operation.operationType.rawValue) '\($0)'" } ?? "anonymous query"
            fieldName = operation.name ?? ""
            location = operation.location
        case .field(let field):
            nodeName = "field '\(field.name)'"
            fieldName = field.name
            location = field.location
        }
        let message: String
        if selections.isEmpty {
            guard type.hasFields else { return true }
            message =
                "Field must have selections (\(nodeName) returns \(type.name) but has no selections. "
                + "Did you mean '\(fieldName) { ... }'?)"
        } else {
            guard type.isLeaf else { return true }
            let shown = selections.map { selection -> String in
                switch selection {
                case .field(let field): return "\"\(field.name)\""
                case .fragmentSpread(let spread): return "\"\(spread.name)\""
                case .inlineFragment(let fragment): return "\"... on \(fragment.typeCondition ?? "") { ... }\""
                }
            }
            let kind = type.kind == .scalar ? "scalars" : "enums"
            let list = shown.joined(separator: ", ")
            message = "Selections can't be made on \(kind) (\(nodeName) returns \(type.name) but has selections [\(list)])"
        }
        addError(
            message, at: [location], code: "selectionMismatch",
            extras: ["nodeName": .string(nodeName), "typeName": .string(type.name)])
        return false
    }

    // MARK: - Directives

    /// DirectivesAreDefined: one error per undefined name, listing every place it is used.
    func reportUndefinedDirective(_ directive: Directive) {
        if let index = undefinedDirectiveErrorIndex[directive.name] {
            addLocation(directive.location, toErrorAt: index)
            return
        }
        undefinedDirectiveErrorIndex[directive.name] = errors.count
        addError(
            "Directive @\(directive.name) is not defined", at: [directive.location], code: "undefinedDirective",
            extras: ["directiveName": .string(directive.name)])
    }

    /// graphql-ruby's names for the executable directive locations; others print as "".
    static let locationMessageNames: [String: String] = [
        "QUERY": "queries", "MUTATION": "mutations", "SUBSCRIPTION": "subscriptions", "FIELD": "fields",
        "FRAGMENT_DEFINITION": "fragment definitions", "FRAGMENT_SPREAD": "fragment spreads",
        "INLINE_FRAGMENT": "inline fragments", "VARIABLE_DEFINITION": "variable definitions",
    ]

    /// DirectivesAreInValidLocations.
    func checkDirectiveLocation(_ directive: Directive, definition: DirectiveDefinition, on parent: DirectiveParent) {
        let required: String
        switch parent {
        case .operation(let type): required = type.rawValue.uppercased()
        case .field: required = "FIELD"
        case .fragmentDefinition: required = "FRAGMENT_DEFINITION"
        case .fragmentSpread: required = "FRAGMENT_SPREAD"
        case .inlineFragment: required = "INLINE_FRAGMENT"
        case .variableDefinition: required = "VARIABLE_DEFINITION"
        }
        guard !definition.locations.contains(required) else { return }
        let target = Self.locationMessageNames[required] ?? ""
        let allowed = definition.locations.map { Self.locationMessageNames[$0] ?? "" }.joined(separator: ", ")
        addError(
            "'@\(definition.name)' can't be applied to \(target) (allowed: \(allowed))", at: [directive.location],
            code: "directiveCannotBeApplied", extras: ["targetName": .string(target), "name": .string(definition.name)])
    }

    /// UniqueDirectivesPerLocation: one error per repeated directive, listing its first use and every repeat.
    func checkDirectivesAreUnique(_ directives: [Directive]) {
        guard directives.count > 1 else { return }
        var firstUse: [String: DocumentLocation] = [:]
        var errorIndex: [String: Int] = [:]
        for directive in directives {
            if let first = firstUse[directive.name] {
                if let index = errorIndex[directive.name] {
                    addLocation(directive.location, toErrorAt: index)
                } else {
                    errorIndex[directive.name] = errors.count
                    addError(
                        "The directive \"\(directive.name)\" can only be used once at this location.",
                        at: [first, directive.location], code: "directiveNotUniqueForLocation",
                        extras: ["directiveName": .string(directive.name)])
                }
            } else if !(schema.directives[directive.name]?.isRepeatable ?? false) {
                firstUse[directive.name] = directive.location
            }
        }
    }

    // MARK: - Arguments

    /// The definition whose arguments `parent`'s arguments are (graphql-ruby's `parent_definition`).
    func argumentOwner(of parent: ArgumentParent) -> ArgumentOwner? {
        switch parent {
        case .field: return currentFieldDefinition.map(ArgumentOwner.field)
        case .directive: return currentDirectiveDefinition.map(ArgumentOwner.directive)
        case .inputObject: return parentArgumentDefinition.flatMap(inputObjectType(of:)).map(ArgumentOwner.inputObject)
        }
    }

    /// How graphql-ruby names an argument's parent in messages: ("Field", alias or name), ("Directive", name),
    /// ("InputObject", type name).
    func describe(_ parent: ArgumentParent, owner: ArgumentOwner) -> (kind: String, name: String) {
        switch (parent, owner) {
        case (.field(let field), _): return ("Field", field.responseKey)
        case (.directive(let directive), _): return ("Directive", directive.name)
        case (.inputObject, .inputObject(let type)): return ("InputObject", type.name)
        case (.inputObject, _): return ("InputObject", "")
        }
    }

    /// ArgumentsAreDefined. False stops the walk below the argument.
    func checkArgumentIsDefined(_ argument: Argument, owner: ArgumentOwner?, parent: ArgumentParent) -> Bool {
        guard let owner, owner.argument(named: argument.name) == nil else { return true }
        let (kind, name) = describe(parent, owner: owner)
        addError(
            "\(kind) '\(name)' doesn't accept argument '\(argument.name)'", at: [argument.location],
            code: "argumentNotAccepted",
            extras: ["name": .string(name), "typeName": .string(kind), "argumentName": .string(argument.name)])
        return false
    }

    /// ArgumentLiteralsAreCompatible, checked after the argument's children; skipped when an error was already
    /// reported at or below this argument (graphql-ruby reports the innermost problem only).
    func checkArgumentLiteral(_ argument: Argument, owner: ArgumentOwner?, parent: ArgumentParent) {
        if case .variable = argument.value.kind { return }
        let depth = path.count
        if errors.contains(where: { ($0.path ?? []).count >= depth && Array(($0.path ?? []).prefix(depth)) == path }) {
            return
        }
        guard let owner, let definition = owner.argument(named: argument.name) else { return }
        guard case .invalid(let problem) = literals.validate(argument.value, as: definition.type) else { return }
        let (kind, name) = describe(parent, owner: owner)
        let location: DocumentLocation
        switch parent {
        case .field(let field): location = field.location
        case .directive(let directive): location = directive.location
        case .inputObject(let object): location = object.location
        }
        if let problem, let message = problem.message {
            // A scalar's own coercion error (Shopify's "Invalid global id ..."): its message, graphql-ruby's
            // legacy "CoercionError" type name.
            addError(
                message, at: [location], code: "argumentLiteralsIncompatible",
                extras: ["typeName": "CoercionError"])
            return
        }
        addError(
            "Argument '\(argument.name)' on \(kind) '\(name)' has an invalid value (\(argument.value.printed)). "
                + "Expected type '\(definition.type)'.",
            at: [location], code: "argumentLiteralsIncompatible",
            extras: ["typeName": .string(kind), "argumentName": .string(argument.name)])
    }

    /// RequiredArgumentsArePresent.
    func checkRequiredArguments(
        _ arguments: [Argument], of owner: ArgumentOwner?, node: String, name: String, at location: DocumentLocation
    ) {
        guard let owner else { return }
        let missing = owner.arguments.filter { required in
            required.isRequired && !arguments.contains { $0.name == required.name }
        }.map(\.name)
        guard !missing.isEmpty else { return }
        let list = missing.joined(separator: ", ")
        addError(
            "\(node) '\(name)' is missing required arguments: \(list)", at: [location], code: "missingRequiredArguments",
            extras: ["className": .string(node), "name": .string(name), "arguments": .string(list)])
    }

    /// ArgumentNamesAreUnique.
    func checkArgumentNamesAreUnique(_ arguments: [Argument]) {
        for (name, locations) in duplicates(arguments) {
            addError(
                "There can be only one argument named \"\(name)\"", at: locations, code: "argumentNotUnique",
                extras: ["name": .string(name)])
        }
    }

    /// InputObjectNamesAreUnique.
    func checkInputFieldNamesAreUnique(_ fields: [Argument]) {
        for (name, locations) in duplicates(fields) {
            addError(
                "There can be only one input field named \"\(name)\"", at: locations, code: "inputFieldNotUnique",
                extras: ["name": .string(name)])
        }
    }

    /// Names given more than once, in first-appearance order, with every location.
    private func duplicates(_ arguments: [Argument]) -> [(String, [DocumentLocation])] {
        guard arguments.count > 1 else { return [] }
        var groups: [(name: String?, locations: [DocumentLocation])] = []
        for argument in arguments { Self.group(&groups, argument.name, argument.location) }
        return groups.compactMap { group in group.locations.count > 1 ? (group.name ?? "", group.locations) : nil }
    }

    /// RequiredInputObjectAttributesArePresent: each missing required field of an input object literal.
    func checkRequiredInputFields(_ object: Value, fields: [Argument]) {
        guard let enclosing = currentArgumentDefinition, let type = inputObjectType(of: enclosing) else { return }
        for field in type.inputFields where field.isRequired && !fields.contains(where: { $0.name == field.name }) {
            addError(
                "Argument '\(field.name)' on InputObject '\(type.name)' is required. Expected type \(field.type)",
                at: [object.location], path: path + [.key(field.name)], code: "missingRequiredInputObjectAttribute",
                extras: [
                    "argumentName": .string(field.name), "argumentType": .string(field.type.description),
                    "inputObjectType": .string(type.name),
                ])
        }
    }
}
