import Contracts
import Postgres

extension PostgresRow {
    /// The shop domain in column `index` of this row of `table`. The calculator writes only normalised domains, so a
    /// value that is not one is a corrupted row: the error names the table, the row and the rule, instead of trapping
    /// or keying stock under a domain no event will ever carry.
    func shopDomain(at index: Int, of table: String) throws -> ShopDomain {
        let text = try decode(String.self, at: index)
        do {
            return try ShopDomain(text)
        } catch {
            let values = columnNames.indices.map { "\(columnNames[$0])=\(self[$0] ?? "NULL")" }
            throw CorruptedRowError(
                "\(table) row (\(values.joined(separator: ", "))): column \(columnNames[index]): \(error); the calculator "
                    + "writes only normalised domains, so the row is corrupted: correct or delete it")
        }
    }
}

/// A row of the calculator's own tables that the calculator cannot have written as it stands.
struct CorruptedRowError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
