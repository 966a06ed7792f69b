/// Static-validation rules about fragments, and graphql-ruby's fragment dependency resolution
/// (`definition_dependencies.rb`), which decides which fragments are unused, undefined or cyclic.

/// An operation or fragment definition, by identity.
enum DefinitionKey: Hashable {
    case operation(ObjectIdentifier)
    case fragment(ObjectIdentifier)

    static func operation(_ node: OperationDefinition) -> DefinitionKey { .operation(ObjectIdentifier(node)) }
    static func fragment(_ node: FragmentDefinition) -> DefinitionKey { .fragment(ObjectIdentifier(node)) }
}

/// Records which definitions spread which fragments during the walk, then resolves them like graphql-ruby's
/// `DefinitionDependencies#resolve_dependencies`: fragments with no spreads are resolved first, then those whose
/// spreads are all resolved; a fragment nobody spreads is unused, a spread of an unknown name is unmet, and what is
/// left unresolved is cyclic (including fragments that spread a cyclic one).
struct DependencyTracker {
    struct Spread {
        let node: FragmentSpread
        let path: [PathSegment]
    }

    struct Resolution {
        /// Spreads of undefined fragments, grouped as graphql-ruby groups them (all operations together).
        var unmet: [Spread] = []
        /// Fragments nobody spreads, with their paths.
        var unused: [(fragment: FragmentDefinition, path: [PathSegment])] = []
        /// Fragments in or depending on a cycle.
        var cyclic: [(fragment: FragmentDefinition, path: [PathSegment])] = []
    }

    /// Fragment definitions by name, in first-appearance order (duplicates kept).
    private var definitionsByName: [(name: String, fragments: [FragmentDefinition])] = []
    /// Paths of the visited definitions (graphql-ruby's `@defdep_node_paths`).
    private var fragmentPaths: [ObjectIdentifier: [PathSegment]] = [:]
    /// Spreads in each definition, definitions in order of their first spread.
    private var immediate: [(key: DefinitionKey, fragment: FragmentDefinition?, spreads: [Spread])] = []
    /// For each fragment name, the definitions spreading it, in order.
    private var dependents: [String: [DefinitionKey]] = [:]
    private var current: (key: DefinitionKey, fragment: FragmentDefinition?)?

    mutating func recordFragmentDefinitions(_ fragments: [FragmentDefinition]) {
        for fragment in fragments {
            let name = fragment.name ?? ""
            if let i = definitionsByName.firstIndex(where: { $0.name == name }) {
                definitionsByName[i].fragments.append(fragment)
            } else {
                definitionsByName.append((name, [fragment]))
            }
        }
    }

    mutating func beginDefinition(_ key: DefinitionKey, path: [PathSegment]) {
        if case .fragment(let id) = key { fragmentPaths[id] = path }
        current = (key, nil)
    }

    mutating func beginDefinition(_ fragment: FragmentDefinition, path: [PathSegment]) {
        fragmentPaths[ObjectIdentifier(fragment)] = path
        current = (.fragment(fragment), fragment)
    }

    mutating func endDefinition() { current = nil }

    mutating func recordSpread(_ spread: FragmentSpread, path: [PathSegment]) {
        guard let current else { return }
        if !(dependents[spread.name]?.contains(current.key) ?? false) {
            dependents[spread.name, default: []].append(current.key)
        }
        let record = Spread(node: spread, path: path)
        if let i = immediate.firstIndex(where: { $0.key == current.key }) {
            immediate[i].spreads.append(record)
        } else {
            immediate.append((current.key, current.fragment, [record]))
        }
    }

    func resolve() -> Resolution {
        var result = Resolution()
        var immediate = self.immediate
        let withSpreads = Set(immediate.map(\.key))
        var independent = definitionsByName.flatMap(\.fragments).filter { !withSpreads.contains(.fragment($0)) }
        var resolvedNames: Set<String> = []
        while let fragment = independent.popLast() {
            let name = fragment.name ?? ""
            guard resolvedNames.insert(name).inserted else { continue }
            immediate.removeAll { $0.key == .fragment(fragment) }
            let users = dependents[name] ?? []
            if users.isEmpty {
                if let path = fragmentPaths[ObjectIdentifier(fragment)] { result.unused.append((fragment, path)) }
                continue
            }
            for user in users {
                guard let i = immediate.firstIndex(where: { $0.key == user }) else { continue }
                immediate[i].spreads.removeAll { $0.node.name == name }
                if immediate[i].spreads.isEmpty, let dependent = immediate[i].fragment, dependent.name != fragment.name {
                    independent.append(dependent)
                }
            }
        }
        // graphql-ruby keys unmet spreads of operations by operation *name* lookups that all miss, so the spreads
        // of all operations form one group, placed where the first operation's group would be.
        let defined = Set(definitionsByName.map(\.name))
        var groups: [(key: DefinitionKey?, spreads: [Spread])] = []
        for i in immediate.indices {
            let missing = immediate[i].spreads.filter { !defined.contains($0.node.name) }
            immediate[i].spreads.removeAll { !defined.contains($0.node.name) }
            guard !missing.isEmpty else { continue }
            let groupKey: DefinitionKey? = immediate[i].fragment == nil ? nil : immediate[i].key
            if let g = groups.firstIndex(where: { $0.key == groupKey }) {
                groups[g].spreads += missing
            } else {
                groups.append((groupKey, missing))
            }
        }
        result.unmet = groups.flatMap(\.spreads)
        for entry in immediate where !entry.spreads.isEmpty {
            if let fragment = entry.fragment, let path = fragmentPaths[ObjectIdentifier(fragment)] {
                result.cyclic.append((fragment, path))
            }
        }
        return result
    }
}

extension StaticValidator {
    /// FragmentTypesExist. False stops the walk below the fragment.
    func checkFragmentTypeExists(_ typeName: String, at location: DocumentLocation) -> Bool {
        guard schema.type(named: typeName) == nil else { return true }
        addError(
            "No such type \(typeName), so it can't be a fragment condition", at: [location], code: "undefinedType",
            extras: ["typeName": .string(typeName)])
        return false
    }

    /// FragmentsAreOnCompositeTypes. False stops the walk below the fragment.
    func checkFragmentTypeIsComposite(_ typeName: String, at location: DocumentLocation) -> Bool {
        guard let type = schema.type(named: typeName), !type.isComposite else { return true }
        addError(
            "Invalid fragment on type \(typeName) (must be Union, Interface or Object)", at: [location],
            code: "fragmentOnNonCompositeType", extras: ["typeName": .string(typeName)])
        return false
    }

    /// FragmentSpreadsArePossible: some object type must be both the fragment's and the enclosing type's.
    /// graphql-ruby skips fragments on unions. `name` is " Name" for a spread and "" for an inline fragment.
    func checkSpreadIsPossible(
        parent: NamedType, child: NamedType, name: String, at location: DocumentLocation, path: [PathSegment]
    ) {
        guard child.hasFields, parent.possibleTypes.isDisjoint(with: child.possibleTypes) else { return }
        addError(
            "Fragment\(name) on \(child.name) can't be spread inside \(parent.name)", at: [location], path: path,
            code: "cannotSpreadFragment",
            extras: [
                "typeName": .string(child.name), "fragmentName": .string(name.isEmpty ? "unknown" : name),
                "parentName": .string(parent.name),
            ])
    }

    /// FragmentSpreadsArePossible, for spreads: checked once the whole document has been walked.
    func finishFragmentSpreadsArePossible() {
        for (spread, parentType, spreadPath) in spreadsToCheck {
            guard let fragment = fragmentsByName[spread.name], let child = schema.type(named: fragment.typeCondition),
                let parentType
            else { continue }
            checkSpreadIsPossible(
                parent: parentType, child: child, name: " " + spread.name, at: spread.location, path: spreadPath)
        }
    }

    /// FragmentsAreUsed.
    func finishFragmentsAreUsed(_ resolution: DependencyTracker.Resolution) {
        for spread in resolution.unmet {
            addError(
                "Fragment \(spread.node.name) was used, but not defined", at: [spread.node.location], path: spread.path,
                code: "useAndDefineFragment", extras: ["fragmentName": .string(spread.node.name)])
        }
        for (fragment, fragmentPath) in resolution.unused {
            guard let name = fragment.name else { continue }
            addError(
                "Fragment \(name) was defined, but not used", at: [fragment.location], path: fragmentPath,
                code: "useAndDefineFragment", extras: ["fragmentName": .string(name)])
        }
    }

    /// FragmentsAreFinite.
    func finishFragmentsAreFinite(_ resolution: DependencyTracker.Resolution) {
        for (fragment, fragmentPath) in resolution.cyclic {
            let name = fragment.name ?? ""
            addError(
                "Fragment \(name) contains an infinite loop", at: [fragment.location], path: fragmentPath,
                code: "infiniteLoop", extras: ["fragmentName": .string(name)])
        }
    }

    /// FragmentNamesAreUnique.
    func finishFragmentNamesAreUnique() {
        for (name, locations) in fragmentNames where locations.count > 1 {
            addError(
                "Fragment name \"\(name ?? "")\" must be unique", at: locations, code: "fragmentNotUnique",
                extras: ["fragmentName": name.map { .string($0) } ?? .null])
        }
    }
}
