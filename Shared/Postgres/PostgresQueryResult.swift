/// The outcome of one statement: its rows (if any), command tag and affected-row count.
public struct PostgresQueryResult: Sendable, RandomAccessCollection {
    let columns: PostgresColumns

    /// The returned rows; empty for commands that return none.
    public let rows: [PostgresRow]
    /// The server's command tag, such as `INSERT 0 3` or `UPDATE 2`.
    public let commandTag: String
    /// Rows inserted, updated, deleted, selected, moved or copied; `nil` for commands that do not report a count.
    public let affectedRows: Int?

    init(columns: PostgresColumns, rows: [PostgresRow], commandTag: String, affectedRows: Int?) {
        self.columns = columns
        self.rows = rows
        self.commandTag = commandTag
        self.affectedRows = affectedRows
    }

    /// The result's column names, in order.
    public var columnNames: [String] { columns.names }

    /// The position of the first row.
    public var startIndex: Int { rows.startIndex }
    /// The position after the last row.
    public var endIndex: Int { rows.endIndex }
    /// The row at `position`.
    public subscript(position: Int) -> PostgresRow { rows[position] }

    /// The first row's first column decoded as `T`, for single-value queries such as `SELECT count(*)`.
    ///
    /// Throws ``PostgresError/Code/columnNotFound`` when there is no row.
    public func scalar<T: PostgresDecodable>(_ type: T.Type = T.self) throws -> T {
        guard let row = rows.first else {
            throw PostgresError(code: .columnNotFound, message: "expected a row, the statement returned none")
        }
        return try row.decode(T.self, at: 0)
    }
}
