/// Static validation of an executable document against the schema: the GraphQL spec's validation rules, checked
/// the way Shopify's server checks them.
///
/// Sources for rules, codes, messages, `extensions` and error order:
/// - Read from graphql-ruby 2.6.9 (the library behind Shopify's GraphQL APIs), not reconstructed:
///   `lib/graphql/static_validation/all_rules.rb` (rule order), `base_visitor.rb` (traversal context, error paths),
///   `rules/*.rb` (checks, message texts), `rules/*_error.rb` (codes, extensions), `literal_validator.rb`,
///   `definition_dependencies.rb`; `lib/graphql/query.rb` (operation selection and its messages),
///   `query/variables.rb`, `query/variable_validation_error.rb` and the types' `validate_input` (variable
///   problems); `language/lexer.rb` and `language/parser.rb` (syntax error texts).
/// - Confirmed from Admin API responses: Shopify's messages carry no "(Did you mean ...)" suggestions (graphql-
///   ruby's `did_you_mean` is off), variable errors have `"code": "INVALID_VARIABLE"`, and `ID` inputs that are
///   not global IDs are refused with "Invalid global id `...`".
/// - Reconstructed: which parser Shopify runs (graphql-ruby's own parser is assumed; the optional C parser words
///   syntax errors differently), and how Shopify's custom scalars refuse bad values (see `ScalarRules`).
///
/// graphql-ruby validates in one depth-first walk over the document in which every rule hooks the nodes it cares
/// about; a rule may stop the walk below a node (an undefined field's arguments and selections are not looked at).
/// This type makes the same walk and calls the same checks in the same order (`ALL_RULES` order before a node's
/// children; rules whose check comes after the children, in reverse order), so errors come out in graphql-ruby's
/// order and with its omissions. The `// [n]` marks give each check's position in `ALL_RULES`.
///
/// Not checked, because Shopify's introspection result does not carry what they need: `@oneOf` input objects
/// (no `isOneOf`) and repeatable directives (no `isRepeatable`; every directive is treated as non-repeatable, as
/// all of Shopify's are). Query cost and depth limits are not static validation and are not checked either.
final class StaticValidator {
    let schema: Schema
    let document: Document
    let literals: LiteralValidator
    private(set) var errors: [GraphQLValidationError] = []

    // MARK: Traversal context (graphql-ruby's `BaseVisitor::ContextMethods`)

    /// graphql-ruby's error path: "query Name", fields (by alias), "... on Type", "... Fragment", arguments.
    var path: [PathSegment] = []
    var currentObjectType: NamedType?
    var parentObjectType: NamedType?
    var currentFieldDefinition: FieldDefinition?
    var currentArgumentDefinition: InputValue?
    var parentArgumentDefinition: InputValue?
    var currentDirectiveDefinition: DirectiveDefinition?

    /// `query.fragments`: the last definition of each name.
    let fragmentsByName: [String: FragmentDefinition]

    // MARK: Rule state

    var operationNames: [(name: String?, locations: [DocumentLocation])] = []
    var fragmentNames: [(name: String?, locations: [DocumentLocation])] = []
    var schemaDefinitionLocations: [DocumentLocation] = []
    var undefinedDirectiveErrorIndex: [String: Int] = [:]
    var declaredVariables: [String: VariableDefinition] = [:]
    var spreadsToCheck: [(spread: FragmentSpread, parentType: NamedType?, path: [PathSegment])] = []
    var variableUsages = VariableUsageTracker()
    var dependencies = DependencyTracker()
    var mergeState = FieldsWillMergeState()

    init(schema: Schema, document: Document, scalars: ScalarRules) {
        self.schema = schema
        self.document = document
        self.literals = LiteralValidator(schema: schema, scalars: scalars)
        var fragments: [String: FragmentDefinition] = [:]
        for fragment in document.fragments { fragments[fragment.name ?? ""] = fragment }
        fragmentsByName = fragments
    }

    /// Runs every rule; returns the errors in graphql-ruby's order (empty when the document is valid).
    func validate() -> [GraphQLValidationError] {
        visitDocument()
        return errors
    }

    func addError(
        _ message: String, at locations: [DocumentLocation], path errorPath: [PathSegment]? = nil, code: String,
        extras: JSONObject = [:]
    ) {
        errors.append(
            GraphQLValidationError(
                message: message, locations: locations, path: errorPath ?? path, code: code, extras: extras))
    }

    /// Adds a location to an error already reported (rules that report all occurrences in one error).
    func addLocation(_ location: DocumentLocation, toErrorAt index: Int) {
        errors[index].locations.append(location)
    }

    // MARK: - Document

    private func visitDocument() {
        dependencies.recordFragmentDefinitions(document.fragments)
        for definition in document.definitions {
            switch definition {
            case .operation(let operation): visitOperation(operation)
            case .fragment(let fragment): visitFragmentDefinition(fragment)
            case .typeSystem(let definition): schemaDefinitionLocations.append(definition.location)  // [1]
            }
        }
        let resolved = dependencies.resolve()
        // Checks made after the whole walk, innermost rule first.
        finishVariablesAreUsedAndDefined()  // [24]
        finishFragmentSpreadsArePossible()  // [12]
        finishFragmentsAreUsed(resolved)  // [9]
        finishFragmentsAreFinite(resolved)  // [7]
        finishFragmentNamesAreUnique()  // [6]
        finishOperationNamesAreValid()  // [5]
        finishNoDefinitionsArePresent()  // [1]
    }

    // MARK: - Operations and fragments

    private func visitOperation(_ operation: OperationDefinition) {
        let savedParentType = parentObjectType
        parentObjectType = currentObjectType
        currentObjectType = schema.rootType(for: operation.operationType)
        path.append(.key(operation.operationType.rawValue + (operation.name.map { " " + $0 } ?? "")))
        defer {
            currentObjectType = parentObjectType
            parentObjectType = savedParentType
            path.removeLast()
        }
        checkDirectivesAreUnique(operation.directives)  // [4]
        recordOperationName(operation)  // [5]
        checkFieldsWillMerge(operation.selections, parentType: currentObjectType)  // [14]
        guard checkSelections(of: .operation(operation), selections: operation.selections) else { return }  // [15]
        checkVariableNamesAreUnique(operation)  // [21]
        variableUsages.beginOperation(operation, path: path)  // [24]
        defer { variableUsages.end() }
        declaredVariables = Dictionary(
            operation.variableDefinitions.map { ($0.name, $0) }, uniquingKeysWith: { _, last in last })  // [25]
        guard checkRootTypeExists(operation) else { return }  // [26], [27], [28]
        dependencies.beginDefinition(.operation(operation), path: path)
        defer { dependencies.endDefinition() }

        for variable in operation.variableDefinitions { visitVariableDefinition(variable) }
        let location: DirectiveParent = .operation(operation.operationType)
        for directive in operation.directives { visitDirective(directive, on: location) }
        visitSelections(operation.selections, in: .operation(operation))
    }

    private func visitVariableDefinition(_ variable: VariableDefinition) {
        checkVariableIsInputType(variable)  // [22]
        checkVariableDefaultValue(variable)  // [23]
        for directive in variable.directives { visitDirective(directive, on: .variableDefinition) }
    }

    private func visitFragmentDefinition(_ fragment: FragmentDefinition) {
        let savedParentType = parentObjectType
        parentObjectType = currentObjectType
        currentObjectType = schema.type(named: fragment.typeCondition)
        path.append(.key("fragment " + (fragment.name ?? "")))
        defer {
            currentObjectType = parentObjectType
            parentObjectType = savedParentType
            path.removeLast()
        }
        checkDirectivesAreUnique(fragment.directives)  // [4]
        Self.group(&fragmentNames, fragment.name, fragment.location)  // [6]
        if fragment.name == nil {  // [8]
            addError("Fragment definition has no name", at: [fragment.location], code: "anonymousFragment")
        }
        guard checkFragmentTypeExists(fragment.typeCondition, at: fragment.location),  // [10]
            checkFragmentTypeIsComposite(fragment.typeCondition, at: fragment.location)  // [11]
        else { return }
        variableUsages.beginFragment(fragment)  // [24]
        defer { variableUsages.end() }
        dependencies.beginDefinition(fragment, path: path)
        defer { dependencies.endDefinition() }

        for directive in fragment.directives { visitDirective(directive, on: .fragmentDefinition) }
        visitSelections(fragment.selections, in: .fragmentDefinition(fragment))
    }

    // MARK: - Selections

    /// The node whose selection set is being walked, for errors that point at it.
    enum SelectionParent {
        case operation(OperationDefinition)
        case fragmentDefinition(FragmentDefinition)
        case inlineFragment(InlineFragment)
        case field(Field)

        var location: DocumentLocation {
            switch self {
            case .operation(let node): return node.location
            case .fragmentDefinition(let node): return node.location
            case .inlineFragment(let node): return node.location
            case .field(let node): return node.location
            }
        }
    }

    func visitSelections(_ selections: [Selection], in parent: SelectionParent) {
        for selection in selections {
            switch selection {
            case .field(let field): visitField(field, in: parent)
            case .inlineFragment(let fragment): visitInlineFragment(fragment)
            case .fragmentSpread(let spread): visitFragmentSpread(spread)
            }
        }
    }

    private func visitField(_ field: Field, in parent: SelectionParent) {
        let owner = currentObjectType
        let definition = owner.flatMap { schema.field(on: $0, named: field.name) }
        let savedFieldDefinition = currentFieldDefinition
        let savedParentType = parentObjectType
        currentFieldDefinition = definition
        parentObjectType = currentObjectType
        currentObjectType = definition.flatMap { schema.type(named: $0.type.namedType) }
        path.append(.key(field.responseKey))
        defer {
            currentFieldDefinition = savedFieldDefinition
            currentObjectType = parentObjectType
            parentObjectType = savedParentType
            path.removeLast()
        }
        checkDirectivesAreUnique(field.directives)  // [4]
        guard checkFieldIsDefined(field, parent: parent) else { return }  // [13]
        if !field.selections.isEmpty && selectionsMayConflict(field.selections) {  // [14]
            checkFieldsWillMerge(field.selections, parentType: currentObjectType)
        }
        guard checkSelections(of: .field(field), selections: field.selections) else { return }  // [15]
        checkRequiredArguments(
            field.arguments, of: definition.map(ArgumentOwner.field), node: "Field",
            name: field.name, at: field.location)  // [18]
        checkArgumentNamesAreUnique(field.arguments)  // [20]

        for argument in field.arguments { visitArgument(argument, in: .field(field)) }
        for directive in field.directives { visitDirective(directive, on: .field) }
        visitSelections(field.selections, in: .field(field))
    }

    private func visitInlineFragment(_ fragment: InlineFragment) {
        let type: NamedType?
        if let condition = fragment.typeCondition {
            type = schema.type(named: condition)
            path.append(.key("... on " + condition))
        } else {
            type = currentObjectType
            path.append(.key("..."))
        }
        let savedParentType = parentObjectType
        parentObjectType = currentObjectType
        currentObjectType = type
        defer {
            currentObjectType = parentObjectType
            parentObjectType = savedParentType
            path.removeLast()
        }
        checkDirectivesAreUnique(fragment.directives)  // [4]
        if let condition = fragment.typeCondition {
            guard checkFragmentTypeExists(condition, at: fragment.location),  // [10]
                checkFragmentTypeIsComposite(condition, at: fragment.location)  // [11]
            else { return }
        }
        if let type, let parentObjectType {  // [12]
            checkSpreadIsPossible(parent: parentObjectType, child: type, name: "", at: fragment.location, path: path)
        }
        for directive in fragment.directives { visitDirective(directive, on: .inlineFragment) }
        visitSelections(fragment.selections, in: .inlineFragment(fragment))
    }

    private func visitFragmentSpread(_ spread: FragmentSpread) {
        path.append(.key("... " + spread.name))
        defer { path.removeLast() }
        checkDirectivesAreUnique(spread.directives)  // [4]
        spreadsToCheck.append((spread, currentObjectType, path))  // [12]
        variableUsages.recordSpread(spread.name)  // [24]
        dependencies.recordSpread(spread, path: path)
        for directive in spread.directives { visitDirective(directive, on: .fragmentSpread) }
    }

    // MARK: - Directives and arguments

    /// Where a directive is written, for `DirectivesAreInValidLocations`.
    enum DirectiveParent {
        case operation(OperationType)
        case field, fragmentDefinition, fragmentSpread, inlineFragment, variableDefinition
    }

    private func visitDirective(_ directive: Directive, on parent: DirectiveParent) {
        let definition = schema.directives[directive.name]
        let savedDirectiveDefinition = currentDirectiveDefinition
        currentDirectiveDefinition = definition
        defer { currentDirectiveDefinition = savedDirectiveDefinition }
        guard let definition else {  // [2]
            reportUndefinedDirective(directive)
            return
        }
        checkDirectiveLocation(directive, definition: definition, on: parent)  // [3]
        checkRequiredArguments(
            directive.arguments, of: .directive(definition), node: "Directive",
            name: directive.name, at: directive.location)  // [18]
        checkArgumentNamesAreUnique(directive.arguments)  // [20]
        for argument in directive.arguments { visitArgument(argument, in: .directive(directive)) }
    }

    /// The node an argument belongs to.
    enum ArgumentParent {
        case field(Field)
        case directive(Directive)
        case inputObject(Value)
    }

    private func visitArgument(_ argument: Argument, in parent: ArgumentParent) {
        let definition: InputValue?
        if let enclosing = currentArgumentDefinition {
            definition = inputObjectType(of: enclosing)?.inputField(named: argument.name)
        } else if let directive = currentDirectiveDefinition {
            definition = directive.argument(named: argument.name)
        } else if let field = currentFieldDefinition {
            definition = field.argument(named: argument.name)
        } else {
            definition = nil
        }
        let savedParentArgument = parentArgumentDefinition
        parentArgumentDefinition = currentArgumentDefinition
        currentArgumentDefinition = definition
        path.append(.key(argument.name))
        defer {
            currentArgumentDefinition = parentArgumentDefinition
            parentArgumentDefinition = savedParentArgument
            path.removeLast()
        }
        let owner = argumentOwner(of: parent)
        guard checkArgumentIsDefined(argument, owner: owner, parent: parent) else { return }  // [16]
        checkVariableUsagesAreAllowed(argument, parent: parent)  // [25]
        visitValueChildren(of: argument)
        checkArgumentLiteral(argument, owner: owner, parent: parent)  // [17], after the children
    }

    /// graphql-ruby visits an argument's AST children: its value flattened through lists, keeping variables and
    /// input objects (scalars, enums and nulls have no checks).
    private func visitValueChildren(of argument: Argument) {
        var index = 0
        func visit(_ value: Value) {
            switch value.kind {
            case .variable(let name):
                variableUsages.recordUsage(name, at: value.location, path: path)  // [24]
                index += 1
            case .object:
                visitInputObject(value, index: index, in: argument)
                index += 1
            case .enumValue, .null:
                index += 1
            case .list(let items):
                for item in items { visit(item) }
            default:
                break
            }
        }
        visit(argument.value)
    }

    private func visitInputObject(_ object: Value, index: Int, in argument: Argument) {
        guard case .object(let fields) = object.kind else { return }
        let pushesIndex = currentArgumentDefinition?.type.isList ?? false
        if pushesIndex { path.append(.index(index)) }
        defer { if pushesIndex { path.removeLast() } }
        checkRequiredInputFields(object, fields: fields)  // [19]
        checkInputFieldNamesAreUnique(fields)  // [29]
        for field in fields { visitArgument(field, in: .inputObject(object)) }
    }

    /// The input object type of an argument or input field, nil for other types.
    func inputObjectType(of input: InputValue) -> NamedType? {
        guard let type = schema.type(named: input.type.namedType), type.kind == .inputObject else { return nil }
        return type
    }
}
