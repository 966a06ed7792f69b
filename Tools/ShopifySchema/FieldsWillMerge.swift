/// FieldsWillMerge (spec "Field Selection Merging"), as graphql-ruby's `fields_will_merge.rb` checks it: two
/// fields with the same response key, which can apply to the same object, must be the same field with the same
/// arguments, and their sub-selections must merge too. Reported as
/// "Field 'x' has a field conflict: id or name?" / "Field 'x' has an argument conflict: {first:\"1\"} or {first:\"2\"}?"
/// with an empty path. graphql-ruby's default configuration does not report return-type conflicts (it only logs
/// them), so neither does this.

/// Memo shared by all checks of one document, so that no pair of selection sets is compared twice.
struct FieldsWillMergeState {
    struct Pair: Hashable {
        let first: ObjectIdentifier
        let second: ObjectIdentifier
    }

    var comparedSubSelections: Set<Pair> = []
    /// Field groups already compared: 1 when compared as mutually exclusive, 2 when not.
    var comparedGroups: [String: Int] = [:]
}

extension StaticValidator {
    struct MergeField {
        let node: Field
        let definition: FieldDefinition?
        /// The fragment types the field was reached through.
        let parents: [NamedType]
    }

    /// Fields by response key, keys in order of appearance.
    typealias ResponseKeys = [(key: String, fields: [MergeField])]

    /// The conflicts found in one check: by kind ("field", "argument"), then by response key.
    struct Conflicts {
        var kinds: [(kind: String, keys: [(key: String, nodes: [Field], shown: [String])])] = []

        mutating func touch(_ kind: String) {
            if !kinds.contains(where: { $0.kind == kind }) { kinds.append((kind, [])) }
        }

        mutating func add(_ kind: String, key: String, node: Field, shown: String) {
            touch(kind)
            let k = kinds.firstIndex { $0.kind == kind }!
            guard let i = kinds[k].keys.firstIndex(where: { $0.key == key }) else {
                kinds[k].keys.append((key, [node], [shown]))
                return
            }
            guard !kinds[k].keys[i].nodes.contains(where: { $0 === node }) else { return }
            kinds[k].keys[i].nodes.append(node)
            kinds[k].keys[i].shown.append(shown)
        }
    }

    /// graphql-ruby only checks a field's selection set when it has fragments, aliases or a repeated name.
    func selectionsMayConflict(_ selections: [Selection]) -> Bool {
        var names: [String] = []
        for selection in selections {
            guard case .field(let field) = selection, field.alias == nil else { return true }
            names.append(field.name)
        }
        return names.count > 8 || Set(names).count != names.count
    }

    func checkFieldsWillMerge(_ selections: [Selection], parentType: NamedType?) {
        guard let parentType, !selections.isEmpty else { return }
        var conflicts = Conflicts()
        let responseKeys = collectFields(selections, owner: parentType, parents: [])
        for (key, fields) in responseKeys where fields.count > 1 {
            for i in fields.indices {
                for j in fields.indices where j > i {
                    findConflict(key, fields[i], fields[j], mutuallyExclusive: false, into: &conflicts)
                }
            }
        }
        for (kind, keys) in conflicts.kinds {
            for (key, nodes, shown) in keys {
                let joined = shown.joined(separator: " or ")
                addError(
                    "Field '\(key)' has \(kind == "argument" ? "an" : "a") \(kind) conflict: \(joined)?",
                    at: nodes.map(\.location), path: [], code: "fieldConflict",
                    extras: ["fieldName": .string(key), "conflicts": .string(joined)])
            }
        }
    }

    private func collectFields(_ selections: [Selection], owner: NamedType, parents: [NamedType]) -> ResponseKeys {
        var keys: ResponseKeys = []
        var visitedFragments: Set<String> = []
        collectFields(selections, owner: owner, parents: parents, into: &keys, visited: &visitedFragments)
        return keys
    }

    private func collectFields(
        _ selections: [Selection], owner: NamedType, parents: [NamedType], into keys: inout ResponseKeys,
        visited: inout Set<String>
    ) {
        var spreads: [FragmentSpread] = []
        for selection in selections {
            switch selection {
            case .field(let field):
                let merge = MergeField(node: field, definition: schema.field(on: owner, named: field.name), parents: parents)
                if let i = keys.firstIndex(where: { $0.key == field.responseKey }) {
                    keys[i].fields.append(merge)
                } else {
                    keys.append((field.responseKey, [merge]))
                }
            case .inlineFragment(let fragment):
                let type = fragment.typeCondition.map { schema.type(named: $0) } ?? owner
                if let type {
                    collectFields(fragment.selections, owner: type, parents: parents + [type], into: &keys, visited: &visited)
                }
            case .fragmentSpread(let spread):
                spreads.append(spread)
            }
        }
        // Spreads after the fields and inline fragments, each fragment once.
        for spread in spreads where visited.insert(spread.name).inserted {
            guard let fragment = fragmentsByName[spread.name], let type = schema.type(named: fragment.typeCondition)
            else { continue }
            collectFields(fragment.selections, owner: type, parents: parents + [type], into: &keys, visited: &visited)
        }
    }

    private func findConflict(
        _ key: String, _ first: MergeField, _ second: MergeField, mutuallyExclusive: Bool, into conflicts: inout Conflicts
    ) {
        guard first.definition != nil, second.definition != nil else { return }
        let exclusive = mutuallyExclusive || areMutuallyExclusive(first.parents, second.parents)
        if !exclusive {
            if first.node.name != second.node.name {
                conflicts.add("field", key: key, node: first.node, shown: first.node.name)
                conflicts.add("field", key: key, node: second.node, shown: second.node.name)
            }
            if !Self.sameArguments(first.node, second.node) {
                conflicts.add("argument", key: key, node: first.node, shown: Self.shownArguments(first.node))
                conflicts.add("argument", key: key, node: second.node, shown: Self.shownArguments(second.node))
            }
        }
        conflicts.touch("field")  // graphql-ruby's return-type check creates the field group here
        compareSubSelections(first, second, mutuallyExclusive: exclusive, into: &conflicts)
    }

    private func compareSubSelections(
        _ first: MergeField, _ second: MergeField, mutuallyExclusive: Bool, into conflicts: inout Conflicts
    ) {
        guard let firstDefinition = first.definition, let secondDefinition = second.definition,
            !(first.node.selections.isEmpty && second.node.selections.isEmpty), first.node !== second.node,
            mergeState.comparedSubSelections.insert(
                .init(first: ObjectIdentifier(first.node), second: ObjectIdentifier(second.node))
            ).inserted,
            let firstType = schema.type(named: firstDefinition.type.namedType),
            let secondType = schema.type(named: secondDefinition.type.namedType)
        else { return }
        let firstKeys = collectFields(first.node.selections, owner: firstType, parents: [firstType])
        let secondKeys = collectFields(second.node.selections, owner: secondType, parents: [secondType])
        for (key, fields) in firstKeys {
            guard let others = secondKeys.first(where: { $0.key == key })?.fields,
                !groupsAlreadyCompared(fields, others, mutuallyExclusive: mutuallyExclusive)
            else { continue }
            for field in fields {
                for other in others {
                    findConflict(key, field, other, mutuallyExclusive: mutuallyExclusive, into: &conflicts)
                }
            }
        }
    }

    private func groupsAlreadyCompared(_ first: [MergeField], _ second: [MergeField], mutuallyExclusive: Bool) -> Bool {
        func signature(_ fields: [MergeField]) -> String {
            fields.map { "\(ObjectIdentifier($0.node).hashValue):\($0.parents.map(\.name))" }.joined(separator: ",")
        }
        let a = signature(first)
        let b = signature(second)
        let previous = mergeState.comparedGroups[a + "|" + b]
        if mutuallyExclusive ? previous != nil : previous == 2 { return true }
        let state = mutuallyExclusive ? 1 : 2
        mergeState.comparedGroups[a + "|" + b] = state
        mergeState.comparedGroups[b + "|" + a] = state
        return false
    }

    /// graphql-ruby's `mutually_exclusive?`: fields reached through fragment types that share no object type can
    /// never both apply; so can fields reached through different numbers of fragments.
    private func areMutuallyExclusive(_ first: [NamedType], _ second: [NamedType]) -> Bool {
        if first.isEmpty || second.isEmpty { return false }
        guard first.count == second.count else { return true }
        for (a, b) in zip(first, second) where a !== b {
            if a.possibleTypes.isDisjoint(with: b.possibleTypes) { return true }
        }
        return false
    }

    static func sameArguments(_ first: Field, _ second: Field) -> Bool {
        guard first.arguments.count == second.arguments.count else { return false }
        return first.arguments.allSatisfy { argument in
            second.arguments.first { $0.name == argument.name }.map { $0.value.printed == argument.value.printed }
                ?? false
        }
    }

    /// graphql-ruby's `GraphQL::Language.serialize(serialize_field_args(field))`: `{first:"10",query:"\"x\""}`.
    static func shownArguments(_ field: Field) -> String {
        "{" + field.arguments.map { "\($0.name):\(JSONValue.string($0.value.printed).jsonString)" }.joined(separator: ",") + "}"
    }
}
