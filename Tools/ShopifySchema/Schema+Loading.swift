import Foundation

/// Why an introspection result could not be turned into a `Schema`.
public struct SchemaLoadError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public var description: String { "cannot load schema: \(message)" }
}

extension Schema {
    /// Loads an introspection result (`{"data": {"__schema": ...}}` or `{"__schema": ...}`), gzip-compressed or
    /// plain JSON. Compression is recognized by the gzip magic bytes, not by the file name.
    public static func load(contentsOf url: URL) throws -> Schema {
        var data = try Data(contentsOf: url)
        if data.count >= 2, data[data.startIndex] == 0x1F, data[data.startIndex + 1] == 0x8B {
            data = try gunzip(data)
        }
        return try load(introspectionJSON: data)
    }

    /// Builds a schema from introspection JSON text.
    public static func load(introspectionJSON data: Data) throws -> Schema {
        // JSONSerialization is compiled with optimizations even in debug builds, and it is fast enough for the
        // ~11 MB Admin API result; only the fields the validator needs are read from its output.
        let root: Any
        do {
            root = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw SchemaLoadError(message: "invalid JSON: \(error)")
        }
        guard let top = root as? [String: Any] else { throw SchemaLoadError(message: "top level is not an object") }
        let schemaObject = (top["data"] as? [String: Any])?["__schema"] ?? top["__schema"]
        guard let schema = schemaObject as? [String: Any] else {
            throw SchemaLoadError(message: "no __schema (expected {\"data\":{\"__schema\":...}} or {\"__schema\":...})")
        }
        return try IntrospectionReader().schema(from: schema)
    }
}

/// Reads the introspection `__schema` object.
private struct IntrospectionReader {
    func schema(from object: [String: Any]) throws -> Schema {
        guard let typeObjects = object["types"] as? [[String: Any]] else {
            throw SchemaLoadError(message: "__schema.types is missing")
        }
        var types: [String: NamedType] = [:]
        types.reserveCapacity(typeObjects.count)
        for typeObject in typeObjects {
            let type = try namedType(from: typeObject)
            types[type.name] = type
        }
        var directives: [String: DirectiveDefinition] = [:]
        for directiveObject in object["directives"] as? [[String: Any]] ?? [] {
            guard let name = directiveObject["name"] as? String else {
                throw SchemaLoadError(message: "a directive has no name")
            }
            directives[name] = DirectiveDefinition(
                name: name,
                locations: directiveObject["locations"] as? [String] ?? [],
                arguments: try inputValues(directiveObject["args"], owner: "@\(name)"),
                isRepeatable: directiveObject["isRepeatable"] as? Bool ?? false)
        }
        func rootName(_ key: String) -> String? {
            (object[key] as? [String: Any])?["name"] as? String
        }
        let schema = Schema(
            types: types, directives: directives, queryTypeName: rootName("queryType"),
            mutationTypeName: rootName("mutationType"), subscriptionTypeName: rootName("subscriptionType"))
        try check(schema)
        return schema
    }

    func namedType(from object: [String: Any]) throws -> NamedType {
        guard let name = object["name"] as? String, let kindName = object["kind"] as? String,
            let kind = TypeKind(rawValue: kindName)
        else {
            throw SchemaLoadError(message: "a type has no name or an unknown kind: \(object["name"] ?? "?")")
        }
        var fields: [FieldDefinition] = []
        if let fieldObjects = object["fields"] as? [[String: Any]] {
            fields.reserveCapacity(fieldObjects.count)
            for fieldObject in fieldObjects {
                guard let fieldName = fieldObject["name"] as? String else {
                    throw SchemaLoadError(message: "a field of \(name) has no name")
                }
                fields.append(
                    FieldDefinition(
                        name: fieldName,
                        arguments: try inputValues(fieldObject["args"], owner: "\(name).\(fieldName)"),
                        type: try typeRef(fieldObject["type"], owner: "\(name).\(fieldName)")))
            }
        }
        return NamedType(
            name: name, kind: kind, fields: fields,
            inputFields: try inputValues(object["inputFields"], owner: name),
            enumValues: (object["enumValues"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String },
            possibleTypes: names(object["possibleTypes"]),
            interfaces: names(object["interfaces"]))
    }

    func inputValues(_ value: Any?, owner: String) throws -> [InputValue] {
        guard let objects = value as? [[String: Any]] else { return [] }
        return try objects.map { object in
            guard let name = object["name"] as? String else {
                throw SchemaLoadError(message: "an argument or input field of \(owner) has no name")
            }
            return InputValue(
                name: name, type: try typeRef(object["type"], owner: "\(owner).\(name)"),
                defaultValue: object["defaultValue"] as? String)
        }
    }

    func typeRef(_ value: Any?, owner: String) throws -> TypeRef {
        guard let object = value as? [String: Any], let kind = object["kind"] as? String else {
            throw SchemaLoadError(message: "\(owner) has no type")
        }
        switch kind {
        case "NON_NULL": return .nonNull(try typeRef(object["ofType"], owner: owner))
        case "LIST": return .list(try typeRef(object["ofType"], owner: owner))
        default:
            guard let name = object["name"] as? String else { throw SchemaLoadError(message: "\(owner) has no type name") }
            return .named(name)
        }
    }

    func names(_ value: Any?) -> [String] {
        (value as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
    }

    /// Every type reference must resolve; a dangling one means a truncated or hand-edited file.
    func check(_ schema: Schema) throws {
        if let query = schema.queryTypeName, schema.types[query] == nil {
            throw SchemaLoadError(message: "query type \(query) is not defined")
        }
        for type in schema.types.values {
            for field in type.fields.values {
                for ref in [field.type] + field.arguments.map(\.type) where schema.types[ref.namedType] == nil {
                    throw SchemaLoadError(message: "\(type.name).\(field.name) refers to undefined \(ref.namedType)")
                }
            }
            for input in type.inputFields where schema.types[input.type.namedType] == nil {
                throw SchemaLoadError(message: "\(type.name).\(input.name) refers to undefined \(input.type.namedType)")
            }
        }
    }
}
