import Foundation

/// A warehouse stock movement, as the warehouse posts it to ingest and as the calculator applies it.
///
/// JSON, snake_case: `{"movement_id": "...", "sku": "...", "kind": "receipt", "quantity": 5, ...}`.
public struct StockMovement: Sendable, Equatable, Codable {
    /// What happened in the warehouse.
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// Goods received: `on_hand` + quantity.
        case receipt
        /// Goods shipped for an order line: `on_hand` − quantity and that line's open quantity − quantity.
        case shipment
        /// A customer return put back on the shelf: `on_hand` + quantity.
        case `return`
        /// A correction by delta (positive or negative).
        case correction
        /// An absolute count: `on_hand` becomes quantity.
        case stocktake
    }

    /// The idempotency key, unique per movement for good.
    public var movementId: String
    /// The SKU moved.
    public var sku: String
    /// The kind of movement.
    public var kind: Kind
    /// Units (a delta for corrections, the counted total for stocktakes).
    public var quantity: Int64
    /// The warehouse; nil means the default one.
    public var warehouse: String?
    /// Free text for the merchant's records.
    public var note: String?
    /// For a shipment: the shop domain of the order (`name.myshopify.com`), lower-cased as Shopify's header is; a
    /// shipment whose shop is no domain is refused (400) when parsed.
    public var shop: String?
    /// For a shipment: Shopify's order id.
    public var orderId: Int64?
    /// For a shipment: Shopify's line item id.
    public var lineItemId: Int64?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case movementId = "movement_id", sku, kind, quantity, warehouse, note, shop
        case orderId = "order_id", lineItemId = "line_item_id"
    }

    /// Creates a movement (not validated; see ``parse(_:)``).
    public init(
        movementId: String, sku: String, kind: Kind, quantity: Int64, warehouse: String? = nil, note: String? = nil,
        shop: String? = nil, orderId: Int64? = nil, lineItemId: Int64? = nil
    ) {
        self.movementId = movementId
        self.sku = sku
        self.kind = kind
        self.quantity = quantity
        self.warehouse = warehouse
        self.note = note
        self.shop = shop
        self.orderId = orderId
        self.lineItemId = lineItemId
    }

    /// The JSON body of this movement as published.
    public func json() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array((try? encoder.encode(self)) ?? Data())
    }

    // MARK: - Strict parsing

    /// Parses a request body: one movement object, or an array of them (e.g. a whole stocktake).
    ///
    /// Validation is strict and every error names the field and the rule, with the array index when there is one.
    public static func parse(_ body: [UInt8]) throws -> [StockMovement] {
        let value: Any
        do {
            value = try JSONSerialization.jsonObject(with: Data(body), options: [])
        } catch {
            throw ContractError("body is not valid JSON: send one movement object or an array of them")
        }
        if let object = value as? [String: Any] { return [try parse(object: object, at: nil)] }
        if let array = value as? [Any] {
            guard !array.isEmpty else { throw ContractError("the array of movements is empty") }
            guard array.count <= 10_000 else { throw ContractError("at most 10000 movements per request") }
            var out: [StockMovement] = []
            var ids = Set<String>()
            for (i, element) in array.enumerated() {
                guard let object = element as? [String: Any] else {
                    throw ContractError("[\(i)]: each element must be a movement object")
                }
                let m = try parse(object: object, at: i)
                guard ids.insert(m.movementId).inserted else {
                    throw ContractError("[\(i)].movement_id: '\(m.movementId)' appears twice in this request")
                }
                out.append(m)
            }
            return out
        }
        throw ContractError("body must be a movement object or an array of them")
    }

    private static let knownFields = Set(CodingKeys.allCases.map(\.rawValue))

    /// Empty or only whitespace; a first byte that is visible ASCII answers without Foundation's trimming.
    private static func isBlank(_ s: String) -> Bool {
        if let first = s.utf8.first, first > 0x20, first < 0x7F { return false }
        return s.trimmingCharacters(in: .whitespaces).isEmpty
    }

    private static func parse(object: [String: Any], at index: Int?) throws -> StockMovement {
        let prefix = index.map { "[\($0)]." } ?? ""
        func fail(_ field: String, _ rule: String) -> ContractError { ContractError("\(prefix)\(field): \(rule)") }
        let known = knownFields
        if let unknown = object.keys.sorted().first(where: { !known.contains($0) }) {
            // The name is the sender's and can be as long as the body: echo enough of it to find it.
            let name = unknown.count > 64 ? String(unknown.prefix(64)) + "…" : unknown
            throw fail(name, "unknown field (allowed: \(known.sorted().joined(separator: ", ")))")
        }
        func string(_ field: String, required: Bool, max: Int) throws -> String? {
            guard let raw = object[field], !(raw is NSNull) else {
                if required { throw fail(field, "is required") }
                return nil
            }
            guard let s = raw as? String else { throw fail(field, "must be a string") }
            guard !isBlank(s) else { throw fail(field, "must not be empty") }
            guard s.utf8.count <= max else { throw fail(field, "must be at most \(max) bytes") }
            return s
        }
        func integer(_ field: String, required: Bool) throws -> Int64? {
            guard let raw = object[field], !(raw is NSNull) else {
                if required { throw fail(field, "is required") }
                return nil
            }
            // JSON true/false arrive as NSNumber too; their C type is char.
            guard let n = raw as? NSNumber, String(cString: n.objCType) != "c" else {
                throw fail(field, "must be an integer")
            }
            // The exact decimal text first: NSNumber hands an integer beyond 64 bits back wrapped (2^64 − 1 as −1,
            // 2^64 + 5 as 5). A number written with a fraction or an exponent counts when it is a small whole one.
            let d = n.doubleValue
            guard let exact = Int64(n.stringValue) ?? (abs(d) < 9e15 ? Int64(exactly: d) : nil) else {
                throw fail(field, "must be a whole number")
            }
            return exact
        }
        let id = try string("movement_id", required: true, max: 200)!
        let sku = try string("sku", required: true, max: 255)!
        let kindName = try string("kind", required: true, max: 32)!
        guard let kind = Kind(rawValue: kindName) else {
            throw fail("kind", "must be one of \(Kind.allCases.map(\.rawValue).joined(separator: ", ")), not '\(kindName)'")
        }
        let quantity = try integer("quantity", required: true)!
        switch kind {
        case .receipt, .shipment, .return:
            guard quantity > 0 else { throw fail("quantity", "must be greater than 0 for a \(kind.rawValue)") }
        case .correction:
            guard quantity != 0 else { throw fail("quantity", "must not be 0 for a correction (it is a delta)") }
        case .stocktake:
            guard quantity >= 0 else { throw fail("quantity", "must be 0 or more for a stocktake (the counted units)") }
        }
        guard quantity.magnitude <= 1_000_000_000 else { throw fail("quantity", "must be at most 1000000000 in size") }
        // A shipment's shop names the order it ships: normalised as ingest normalises Shopify's header, and refused
        // here when it is no shop domain (the calculator would otherwise dead-letter the whole message).
        let shop = try string("shop", required: kind == .shipment, max: 255).map { text in
            guard kind == .shipment else { return text }  // refused below: only shipments name a shop
            do { return try ShopDomain(text).description } catch { throw fail("shop", "\(error)") }
        }
        let movement = StockMovement(
            movementId: id, sku: sku, kind: kind, quantity: quantity,
            warehouse: try string("warehouse", required: false, max: 100),
            note: try string("note", required: false, max: 1000),
            shop: shop,
            orderId: try integer("order_id", required: kind == .shipment),
            lineItemId: try integer("line_item_id", required: kind == .shipment))
        if kind != .shipment, movement.shop != nil || movement.orderId != nil || movement.lineItemId != nil {
            throw fail("shop", "shop, order_id and line_item_id belong to shipments only")
        }
        return movement
    }
}
