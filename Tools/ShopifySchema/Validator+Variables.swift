/// Static-validation rules about variables: VariableNamesAreUnique, VariablesAreInputTypes,
/// VariableDefaultValuesAreCorrectlyTyped, VariablesAreUsedAndDefined and VariableUsagesAreAllowed.

/// Where variables are declared and used, per operation and fragment (graphql-ruby's `VariablesAreUsedAndDefined`
/// bookkeeping). Usages in fragments count for every operation that spreads them, directly or not.
struct VariableUsageTracker {
    enum Owner {
        case operation(OperationDefinition)
        case fragment(FragmentDefinition)

        /// How messages name it: the name, or "anonymous query" for an unnamed operation.
        var displayName: String {
            switch self {
            case .operation(let op): return op.name ?? "anonymous \(op.operationType.rawValue)"
            case .fragment(let fragment): return fragment.name ?? ""
            }
        }
    }

    struct Usage {
        var declaredBy: OperationDefinition?
        var usedBy: Owner?
        var location: DocumentLocation?
        var path: [PathSegment] = []
    }

    struct Context {
        let owner: Owner
        /// Usages by variable name, in order of first mention.
        var usages: [(name: String, usage: Usage)] = []
        /// Fragments spread directly in this definition.
        var spreads: [String] = []

        mutating func withUsage(_ name: String, _ update: (inout Usage) -> Void) {
            if let i = usages.firstIndex(where: { $0.name == name }) {
                update(&usages[i].usage)
            } else {
                var usage = Usage()
                update(&usage)
                usages.append((name, usage))
            }
        }
    }

    private(set) var contexts: [Context] = []
    private var stack: [Int] = []

    mutating func beginOperation(_ operation: OperationDefinition, path: [PathSegment]) {
        var context = Context(owner: .operation(operation))
        for variable in operation.variableDefinitions {
            context.withUsage(variable.name) {
                $0.declaredBy = operation
                $0.path = path
            }
        }
        contexts.append(context)
        stack.append(contexts.count - 1)
    }

    mutating func beginFragment(_ fragment: FragmentDefinition) {
        contexts.append(Context(owner: .fragment(fragment)))
        stack.append(contexts.count - 1)
    }

    mutating func end() { stack.removeLast() }

    mutating func recordSpread(_ name: String) {
        guard let current = stack.last else { return }
        contexts[current].spreads.append(name)
    }

    mutating func recordUsage(_ name: String, at location: DocumentLocation, path: [PathSegment]) {
        guard let current = stack.last else { return }
        let owner = contexts[current].owner
        contexts[current].withUsage(name) {
            $0.usedBy = owner
            $0.location = location
            $0.path = path
        }
    }

    /// Adds to `context` the usages of the fragments it spreads, transitively (graphql-ruby's `follow_spreads`).
    func followSpreads(of spreads: [String], into context: inout Context, visited: inout [String]) {
        for name in spreads where !visited.contains(name) {
            guard
                let fragmentContext = contexts.first(where: {
                    if case .fragment(let fragment) = $0.owner { return fragment.name == name }
                    return false
                })
            else { continue }
            visited.append(name)
            for (variable, child) in fragmentContext.usages {
                context.withUsage(variable) { parent in
                    if child.usedBy != nil {
                        parent.usedBy = child.usedBy
                        parent.location = child.location
                        parent.path = child.path
                    }
                }
            }
            followSpreads(of: fragmentContext.spreads, into: &context, visited: &visited)
        }
    }
}

extension StaticValidator {
    /// VariableNamesAreUnique.
    func checkVariableNamesAreUnique(_ operation: OperationDefinition) {
        var groups: [(name: String?, locations: [DocumentLocation])] = []
        for variable in operation.variableDefinitions { Self.group(&groups, variable.name, variable.location) }
        for (name, locations) in groups where locations.count > 1 {
            addError(
                "There can only be one variable named \"\(name ?? "")\"", at: locations, code: "variableNotUnique",
                extras: ["variableName": .string(name ?? "")])
        }
    }

    /// VariablesAreInputTypes.
    func checkVariableIsInputType(_ variable: VariableDefinition) {
        let typeName = variable.type.namedType
        guard let type = schema.type(named: typeName) else {
            addError(
                "\(typeName) isn't a defined input type (on $\(variable.name))", at: [variable.location],
                code: "variableRequiresValidType",
                extras: ["typeName": .string(typeName), "variableName": .string(variable.name)])
            return
        }
        if !type.isInputType {
            addError(
                "\(type.name) isn't a valid input type (on $\(variable.name))", at: [variable.location],
                code: "variableRequiresValidType",
                extras: ["typeName": .string(typeName), "variableName": .string(variable.name)])
        }
    }

    /// VariableDefaultValuesAreCorrectlyTyped. The message is the first problem's explanation when the literal
    /// validator gave one ("Could not coerce value ...", "Expected ... to be one of: ...").
    func checkVariableDefaultValue(_ variable: VariableDefinition) {
        guard let defaultValue = variable.defaultValue, schema.type(named: variable.type.namedType) != nil else { return }
        guard case .invalid(let problem) = literals.validate(defaultValue, as: variable.type) else { return }
        addError(
            problem?.explanation ?? "Default value for $\(variable.name) doesn't match type \(variable.type)",
            at: [variable.location], code: "defaultValueInvalidType",
            extras: ["variableName": .string(variable.name), "typeName": .string(variable.type.description)])
    }

    /// VariablesAreUsedAndDefined, once the document has been walked: for each operation, the variables it
    /// declares but never uses (also through fragments), then those it uses but does not declare.
    func finishVariablesAreUsedAndDefined() {
        for context in variableUsages.contexts {
            guard case .operation(let operation) = context.owner else { continue }
            var merged = context
            var visited: [String] = []
            variableUsages.followSpreads(of: context.spreads, into: &merged, visited: &visited)
            let operationName = VariableUsageTracker.Owner.operation(operation).displayName
            for (name, usage) in merged.usages where usage.declaredBy != nil && usage.usedBy == nil {
                addError(
                    "Variable $\(name) is declared by \(operationName) but not used",
                    at: [operation.location], path: usage.path, code: "variableNotUsed",
                    extras: ["variableName": .string(name)])
            }
            for (name, usage) in merged.usages where usage.declaredBy == nil {
                guard let usedBy = usage.usedBy, let location = usage.location else { continue }
                addError(
                    "Variable $\(name) is used by \(usedBy.displayName) but not declared", at: [location],
                    path: usage.path, code: "variableNotDefined", extras: ["variableName": .string(name)])
            }
        }
    }

    /// VariableUsagesAreAllowed (spec "All Variable Usages Are Allowed"): a variable given directly as an argument
    /// (or as an item of a list literal) must have the argument's type, a nullable variable being allowed into a
    /// non-null position only when it has a default, and a nullable argument with a default accepting a nullable
    /// variable. Variables are checked against the declarations of the operation walked last, as graphql-ruby does.
    func checkVariableUsagesAreAllowed(_ argument: Argument, parent: ArgumentParent) {
        let values: [Value]
        if case .list(let items) = argument.value.kind { values = items } else { values = [argument.value] }
        let owner: ArgumentOwner?
        switch parent {
        case .field: owner = currentFieldDefinition.map(ArgumentOwner.field)
        case .directive: owner = currentDirectiveDefinition.map(ArgumentOwner.directive)
        case .inputObject: owner = parentArgumentDefinition.flatMap(inputObjectType(of:)).map(ArgumentOwner.inputObject)
        }
        for value in values {
            guard case .variable(let name) = value.kind, let declaration = declaredVariables[name], let owner,
                let definition = owner.argument(named: argument.name)
            else { continue }
            checkVariableUsage(declaration, argument: argument, definition: definition)
        }
    }

    private func checkVariableUsage(_ declaration: VariableDefinition, argument: Argument, definition: InputValue) {
        guard schema.type(named: declaration.type.namedType) != nil else { return }
        var variableType = declaration.type
        if declaration.defaultValue != nil && !variableType.isNonNull { variableType = .nonNull(variableType) }
        var argumentType = definition.type
        if argumentType.isNonNull && definition.hasDefault { argumentType = argumentType.ofType }
        // A variable inside list literals stands for that many list levels.
        for _ in 0..<Self.listDepth(of: argument.value) { variableType = .nonNull(.list(variableType)) }

        let mismatch: String
        if declaration.type.namedType != argumentType.namedType {
            mismatch = "Type mismatch"
        } else if Self.listDimension(variableType) != Self.listDimension(argumentType) {
            mismatch = "List dimension mismatch"
        } else if !Self.nonNullLevelsMatch(argument: argumentType, variable: variableType) {
            mismatch = "Nullability mismatch"
        } else {
            return
        }
        addError(
            "\(mismatch) on variable $\(declaration.name) and argument \(argument.name) (\(variableType) / \(definition.type))",
            at: [argument.location], code: "variableMismatch",
            extras: [
                "variableName": .string(declaration.name), "typeName": .string(variableType.description),
                "argumentName": .string(argument.name), "errorMessage": .string(mismatch),
            ])
    }

    static func listDepth(of value: Value) -> Int {
        guard case .list(let items) = value.kind else { return 0 }
        return 1 + (items.map(listDepth(of:)).max() ?? 0)
    }

    static func listDimension(_ type: TypeRef) -> Int {
        switch type {
        case .list(let inner): return 1 + listDimension(inner)
        case .nonNull(let inner): return listDimension(inner)
        case .named: return 0
        }
    }

    /// graphql-ruby's `non_null_levels_match`: wherever the argument is non-null, the variable must be too.
    static func nonNullLevelsMatch(argument: TypeRef, variable: TypeRef) -> Bool {
        if argument.isNonNull && !variable.isNonNull { return false }
        guard case .named = argument else {
            guard !isNamed(variable) else { return true }
            let variableInner = variable.isNonNull && !argument.isNonNull ? variable.ofType : variable
            return nonNullLevelsMatch(argument: argument.ofType, variable: variableInner.ofType)
        }
        return true
    }

    private static func isNamed(_ type: TypeRef) -> Bool {
        if case .named = type { return true }
        return false
    }
}
