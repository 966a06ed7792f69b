/// One result row: text-format values with typed, column-checked decoding.
public struct PostgresRow: Sendable {
    let columns: PostgresColumns
    let values: [String?]

    init(columns: PostgresColumns, values: [String?]) {
        self.columns = columns
        self.values = values
    }

    /// The number of columns.
    public var count: Int { values.count }

    /// The column names, in result order.
    public var columnNames: [String] { columns.names }

    /// The raw text of the value at `index`, or `nil` for SQL `NULL`.
    public subscript(index: Int) -> String? {
        values[index]
    }

    /// Whether the value at `index` is SQL `NULL`.
    public func isNull(at index: Int) throws -> Bool {
        try checkIndex(index)
        return values[index] == nil
    }

    /// Decodes the value at `index`; `NULL` decodes only into optional types.
    public func decode<T: PostgresDecodable>(_ type: T.Type = T.self, at index: Int) throws -> T {
        try checkIndex(index)
        return try decodeValue(T.self, index: index)
    }

    /// Decodes the value in the column named `column`; `NULL` decodes only into optional types.
    public func decode<T: PostgresDecodable>(_ type: T.Type = T.self, column: String) throws -> T {
        guard let index = columns.index(of: column) else {
            throw PostgresError(
                code: .columnNotFound,
                message: "no column \"\(column)\" in result (columns: \(columns.names.joined(separator: ", ")))")
        }
        return try decodeValue(T.self, index: index)
    }

    private func checkIndex(_ index: Int) throws {
        guard values.indices.contains(index) else {
            throw PostgresError(
                code: .columnNotFound, message: "column index \(index) out of range (row has \(values.count) columns)")
        }
    }

    private func decodeValue<T: PostgresDecodable>(_: T.Type, index: Int) throws -> T {
        guard let text = values[index] else {
            guard let null = T.postgresNull else {
                throw PostgresError(
                    code: .unexpectedNull,
                    message: "column \"\(columns.names[index])\" is NULL; decode it as \(T.self)? instead")
            }
            return null
        }
        guard let value = T(postgresText: text) else {
            throw PostgresError(
                code: .decodingFailed, message: "column \"\(columns.names[index])\" cannot be decoded as \(T.self)")
        }
        return value
    }
}
