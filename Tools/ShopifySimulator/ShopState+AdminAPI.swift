import Foundation

extension ShopState {
    /// Valid `reason` values of `inventorySetQuantities`.
    static let inventoryReasons: Set<String> = [
        "correction", "cycle_count_available", "damaged", "movement_canceled", "movement_created", "movement_received",
        "movement_updated", "other", "promotion", "quality_control", "received", "reservation_created",
        "reservation_deleted", "reservation_updated", "restock", "safety_stock", "shrinkage",
    ]

    /// The result of one executed `inventorySetQuantities`.
    struct SetQuantitiesResult: Sendable {
        /// `data.inventorySetQuantities`.
        var payload: JSONValue
        var webhooks: [OutgoingWebhook]
        /// `applied`, `stale`, or the first userError code.
        var outcome: String
    }

    /// Runs `inventorySetQuantities` atomically: every check passes and every quantity is set, or nothing changes.
    mutating func setQuantities(_ input: SetQuantitiesInput, now: Date) -> SetQuantitiesResult {
        var errors: [(code: String, field: [String], message: String)] = []
        if input.name != "available" {
            errors.append(
                ("INVALID_NAME", ["input", "name"], "The quantity name must be 'available' (the simulator tracks only 'available')."))
        }
        if !Self.inventoryReasons.contains(input.reason) {
            errors.append(("INVALID_REASON", ["input", "reason"], "The specified reason is invalid."))
        }
        if let uri = input.referenceDocumentUri, !Self.isValidURI(uri) {
            errors.append(("INVALID_REFERENCE_DOCUMENT", ["input", "referenceDocumentUri"], "The specified reference document is invalid."))
        }
        var seen: Set<LevelKey> = []
        var targets: [(LevelKey, SetQuantitiesInput.Quantity)] = []
        for (i, q) in input.quantities.enumerated() {
            let path = ["input", "quantities", String(i)]
            let item = GlobalID(q.inventoryItemId)
            let location = GlobalID(q.locationId)
            guard let item, item.type == "InventoryItem", let variant = variant(forItem: item.id) else {
                errors.append(("INVALID_INVENTORY_ITEM", path + ["inventoryItemId"], "The specified inventory item could not be found."))
                continue
            }
            if traits(of: variant).requiresComponents {
                // Schema 2026-04, InventorySetQuantitiesUserErrorCode.NON_MUTABLE_INVENTORY_ITEM.
                errors.append(
                    ("NON_MUTABLE_INVENTORY_ITEM", path + ["inventoryItemId"],
                     "The specified inventory item is not allowed to be adjusted via API. Example: if the inventory item is a parent bundle."))
                continue
            }
            guard let location, location.type == "Location", locations.contains(where: { $0.id == location.id }) else {
                errors.append(("INVALID_LOCATION", path + ["locationId"], "The specified location could not be found."))
                continue
            }
            let key = LevelKey(item: item.id, location: location.id)
            guard seen.insert(key).inserted else {
                errors.append(
                    ("NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR", path,
                     "The combination of inventoryItemId and locationId must be unique."))
                continue
            }
            guard levels[key] != nil else {
                errors.append(("ITEM_NOT_STOCKED_AT_LOCATION", path + ["locationId"], "The specified inventory item is not stocked at the location."))
                continue
            }
            if q.quantity > 1_000_000_000 {
                errors.append(("INVALID_QUANTITY_TOO_HIGH", path + ["quantity"], "The total quantity can't be higher than 1,000,000,000."))
                continue
            }
            if q.quantity < -1_000_000_000 {
                errors.append(("INVALID_QUANTITY_TOO_LOW", path + ["quantity"], "The total quantity can't be lower than -1,000,000,000."))
                continue
            }
            targets.append((key, q))
        }
        if errors.isEmpty {
            for (i, (key, q)) in targets.enumerated() {
                if let expected = q.changeFromQuantity, levels[key]!.available != expected {
                    errors.append(
                        ("CHANGE_FROM_QUANTITY_STALE", ["input", "quantities", String(i), "changeFromQuantity"],
                         "The changeFromQuantity value does not match persisted value."))
                }
            }
        }
        if !errors.isEmpty {
            let userErrors: [JSONValue] = errors.map {
                ["code": .string($0.code), "field": .array($0.field.map { .string($0) }), "message": .string($0.message)]
            }
            let outcome = errors.first!.code == "CHANGE_FROM_QUANTITY_STALE" ? "stale" : errors.first!.code
            return SetQuantitiesResult(
                payload: ["inventoryAdjustmentGroup": .null, "userErrors": .array(userErrors)], webhooks: [], outcome: outcome)
        }
        var changes: [JSONValue] = []
        var webhooks: [OutgoingWebhook] = []
        for (key, q) in targets {
            let before = levels[key]!.available
            if let hook = setLevel(key, to: q.quantity, now: now, cause: "inventorySetQuantities \(input.referenceDocumentUri ?? "-")") {
                webhooks.append(hook)
            }
            changes.append([
                "name": "available",
                "delta": .int(Int64(q.quantity - before)),
                "quantityAfterChange": .int(Int64(q.quantity)),
                "item": ["id": .string("gid://shopify/InventoryItem/\(key.item)")],
                "location": ["id": .string("gid://shopify/Location/\(key.location)")],
            ])
        }
        let group: JSONValue = [
            "createdAt": .string(Timestamp.precise(now)),
            "reason": .string(input.reason),
            "referenceDocumentUri": .nullable(input.referenceDocumentUri),
            "changes": .array(changes),
        ]
        return SetQuantitiesResult(
            payload: ["inventoryAdjustmentGroup": group, "userErrors": []], webhooks: webhooks, outcome: "applied")
    }

    static func isValidURI(_ uri: String) -> Bool {
        guard let colon = uri.firstIndex(of: ":"), colon != uri.startIndex else { return false }
        let scheme = uri[..<colon]
        return scheme.allSatisfy { $0.isLetter || $0.isNumber || "+-.".contains($0) } && uri.index(after: colon) != uri.endIndex
    }

    // MARK: - Queries

    /// `data.productVariants` and the number of nodes returned.
    /// `searchLag`: a variant created less than this long before `now` is not found yet. Shopify's variant search is
    /// an index, updated some time after a product is created (https://shopify.dev/docs/api/usage/search-syntax; the
    /// delay is not documented).
    /// `after`: the cursor of the last variant of the page before (the simulator's cursors are positions).
    func productVariantsQuery(
        first: Int, sku: String?, after: Int? = nil, now: Date = Date(), searchLag: TimeInterval = 0
    ) -> (JSONValue, Int) {
        let indexed = { (v: ProductVariant) in
            searchLag <= 0 || (variantCreatedAt[v.variantId].map { now.timeIntervalSince($0) >= searchLag } ?? true)
        }
        let positions = sku.map { variantIndexBySKU[$0.lowercased()] ?? [] } ?? Array(variants.indices)
        let all = positions.map { (offset: $0, element: variants[$0]) }
            .filter { indexed($0.element) && (after == nil || $0.offset > after!) }
        let page = all.prefix(first)
        let matches = page.map(\.element)
        let nodes: [JSONValue] = matches.map {
            let traits = traits(of: $0)
            return [
                "id": .string($0.variantGID), "sku": .string($0.sku), "title": .string($0.title),
                "inventoryPolicy": .string(traits.continueSelling ? "CONTINUE" : "DENY"),
                "requiresComponents": .bool(traits.requiresComponents),
                "inventoryItem": ["id": .string($0.inventoryItemGID), "tracked": .bool(traits.tracked)],
            ]
        }
        let endCursor: JSONValue = page.last.map { .string(String($0.offset)) } ?? .null
        return (
            ["productVariants": ["nodes": .array(nodes), "pageInfo": ["hasNextPage": .bool(all.count > first), "endCursor": endCursor]]],
            nodes.count
        )
    }

    /// `data.locations` and the number of nodes returned.
    func locationsQuery(first: Int) -> (JSONValue, Int) {
        let nodes: [JSONValue] = locations.prefix(first).map {
            [
                "id": .string("gid://shopify/Location/\($0.id)"), "name": .string($0.name), "isActive": true,
                "fulfillsOnlineOrders": .bool($0.fulfillsOnlineOrders),
            ]
        }
        return (["locations": ["nodes": .array(nodes), "pageInfo": ["hasNextPage": .bool(false)]]], nodes.count)
    }

    /// `data.nodes` for inventory item ids; other or unknown ids are `null`. Errors for unsupported names.
    func inventoryItemNodesQuery(ids: [String], locationID: String?, names: [String]) throws(GraphQLError) -> JSONValue {
        if let bad = names.first(where: { !["available", "committed", "on_hand"].contains($0) }) {
            throw GraphQLError(
                message: "The simulator tracks only the 'available' quantity (asked for '\(bad)')", code: "BAD_REQUEST")
        }
        var location: Int64? = nil
        if let locationID {
            guard let gid = GlobalID(locationID), gid.type == "Location" else {
                throw GraphQLError(message: "Invalid global id '\(locationID)'", code: "argumentLiteralsIncompatible")
            }
            location = gid.id
        }
        let nodes: [JSONValue] = ids.map { id in
            guard let gid = GlobalID(id), gid.type == "InventoryItem", variant(forItem: gid.id) != nil else { return .null }
            var node: [String: JSONValue] = ["id": .string(id)]
            if let location {
                if let level = levels[LevelKey(item: gid.id, location: location)] {
                    node["inventoryLevel"] = [
                        "quantities": .array(
                            names.map { name in
                                let quantity = name == "committed" ? level.committed : name == "on_hand" ? level.available + level.committed : level.available
                                return ["name": .string(name), "quantity": .int(Int64(quantity))]
                            })
                    ]
                } else {
                    node["inventoryLevel"] = .null
                }
            }
            return .object(node)
        }
        return ["nodes": .array(nodes)]
    }
}
