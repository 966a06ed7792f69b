/// The values that cross the exporter's platform seam (``ShopPlatformClient``), free of any one shop system: what is
/// written, what the shop answers, what a call cost and why a call produced no data. A platform's client (Shopify's
/// in `Services/exporter/Shopify`) translates its wire format into these and back.
package enum ShopPlatform {
    /// The platform's report on the shop's rate-limit bucket, sent with an answer.
    package struct ThrottleStatus: Sendable, Equatable {
        package var maximumAvailable: Double
        package var currentlyAvailable: Double
        package var restoreRate: Double

        package init(maximumAvailable: Double, currentlyAvailable: Double, restoreRate: Double) {
            self.maximumAvailable = maximumAvailable
            self.currentlyAvailable = currentlyAvailable
            self.restoreRate = restoreRate
        }
    }

    /// The cost of one answer: what the call asked for before it ran, what it was charged, and the bucket after it.
    package struct CostReport: Sendable, Equatable {
        package var requestedQueryCost: Double?
        package var actualQueryCost: Double?
        package var throttle: ThrottleStatus?

        package init(requestedQueryCost: Double?, actualQueryCost: Double?, throttle: ThrottleStatus?) {
            self.requestedQueryCost = requestedQueryCost
            self.actualQueryCost = actualQueryCost
            self.throttle = throttle
        }
    }

    /// Why a call produced no data.
    package enum Failure: Error, Equatable {
        /// The token was refused (revoked or rotated).
        case unauthorized
        /// Over the rate limit; `retryAfter` when the platform named it.
        case throttled(retryAfter: Duration?, status: ThrottleStatus?)
        /// A server error, a timeout or a dropped connection: retry the same request later.
        case transient(String)
        /// The request itself was refused: retrying it will not help.
        case rejected(String)
        /// The platform does not serve this shop now (frozen, locked, closed, a scope missing): nothing of it will
        /// work until the merchant acts; the shop is paused by name.
        case refused(Refusal)
        /// The query would cost more than the platform runs in one query; nothing ran. `cost`: what the platform
        /// computed, when it said.
        case tooCostly(cost: Double?)
    }

    /// A state in which the platform refuses every request of the shop.
    package struct Refusal: Sendable, Equatable {
        /// The state's name, for logs and the metric's `state` label (`frozen`, `scope_missing`, …).
        package var name: String
        /// What it means and what fixes it.
        package var reason: String

        package init(name: String, reason: String) {
            self.name = name
            self.reason = reason
        }
    }

    /// A user error in the answer to a write.
    package struct UserError: Sendable, Equatable {
        package var code: String?
        package var field: [String]
        package var message: String
        /// What it means for the write, as the platform's client read it from `code`.
        package var kind: Kind

        /// What a user error means for a compare-and-set write.
        package enum Kind: Sendable, Equatable {
            /// The shop held another quantity than the write compared against: read it and plan again.
            case stale
            /// The item's stock cannot be written (a bundle parent, computed from its components): leave it out.
            case notWritable
            /// The quantity is refused.
            case other
        }

        package init(code: String?, field: [String], message: String, kind: Kind = .other) {
            self.code = code
            self.field = field
            self.message = message
            self.kind = kind
        }

        /// The index into the quantities written the error is about, when its field path names one.
        package var quantityIndex: Int? {
            guard let i = field.firstIndex(of: "quantities"), i + 1 < field.count else { return nil }
            return Int(field[i + 1])
        }
    }

    /// One quantity of a compare-and-set write: set `quantity` if the shop holds `changeFromQuantity`.
    package struct Quantity: Sendable, Equatable {
        package var inventoryItemId: String
        package var locationId: String
        package var quantity: Int64
        package var changeFromQuantity: Int64?

        package init(inventoryItemId: String, locationId: String, quantity: Int64, changeFromQuantity: Int64?) {
            self.inventoryItemId = inventoryItemId
            self.locationId = locationId
            self.quantity = quantity
            self.changeFromQuantity = changeFromQuantity
        }
    }

    /// What the shop made of a write sent under an idempotency key.
    package enum WriteOutcome: Sendable, Equatable {
        /// It ran: the user errors, empty when every quantity was applied.
        case answered([UserError])
        /// An earlier attempt with this key is still running (our side timed out): send again later, same key.
        case attemptInProgress
        /// An earlier attempt with this key failed: the key cannot be used again; send under a new one.
        case attemptFailed
    }

    /// A product variant found by SKU.
    package struct Variant: Sendable, Equatable {
        package var id: String
        package var sku: String
        package var inventoryItemId: String
        /// The platform counts the item down on a sale (nil: not answered).
        package var tracked: Bool?
        /// Sold beyond its stock.
        package var continueSelling: Bool?
        /// A bundle parent, whose stock the platform computes from its components.
        package var requiresComponents: Bool?

        package init(
            id: String, sku: String, inventoryItemId: String, tracked: Bool? = nil, continueSelling: Bool? = nil,
            requiresComponents: Bool? = nil
        ) {
            self.id = id
            self.sku = sku
            self.inventoryItemId = inventoryItemId
            self.tracked = tracked
            self.continueSelling = continueSelling
            self.requiresComponents = requiresComponents
        }
    }

    /// A location of the shop.
    package struct Location: Sendable, Equatable, Codable {
        package var id: String
        package var name: String
        package var isActive: Bool
        package var fulfillsOnlineOrders: Bool

        package init(id: String, name: String, isActive: Bool, fulfillsOnlineOrders: Bool) {
            self.id = id
            self.name = name
            self.isActive = isActive
            self.fulfillsOnlineOrders = fulfillsOnlineOrders
        }

        /// Whether the online store sells its stock.
        package var sellsOnline: Bool { isActive && fulfillsOnlineOrders }
        /// "id (name)", for logs and reports.
        package var label: String { "\(id) (\(name))" }
    }
}
