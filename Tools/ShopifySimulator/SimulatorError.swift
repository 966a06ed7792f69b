/// A failure of a control call or of the simulator's setup, with a stable code and a message naming the fix.
public struct SimulatorError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What kind of failure this is; stable, so callers and the control API can branch on it.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Base: String, Sendable {
            case configuration, unknownShop, unknownSKU, unknownInventoryItem, unknownOrder, unknownLineItem
            case insufficientStock, invalidRequest, orderState, startup
        }
        fileprivate let base: Base
        public var description: String { base.rawValue }

        /// The configuration is invalid or unreadable.
        public static let configuration = Code(base: .configuration)
        /// No shop with that domain.
        public static let unknownShop = Code(base: .unknownShop)
        /// The shop lists no variant with that SKU.
        public static let unknownSKU = Code(base: .unknownSKU)
        /// The shop has no inventory item with that id.
        public static let unknownInventoryItem = Code(base: .unknownInventoryItem)
        /// The shop has no order with that id.
        public static let unknownOrder = Code(base: .unknownOrder)
        /// The order has no line item with that id.
        public static let unknownLineItem = Code(base: .unknownLineItem)
        /// The shop's `available` is below the quantity asked for (checkout refused, as Shopify refuses it).
        public static let insufficientStock = Code(base: .insufficientStock)
        /// The request body is malformed or a value is out of range.
        public static let invalidRequest = Code(base: .invalidRequest)
        /// The order is in a state that does not allow this (cancelled, not fulfilled, …).
        public static let orderState = Code(base: .orderState)
        /// The HTTP server could not start.
        public static let startup = Code(base: .startup)
    }

    /// The stable code.
    public var code: Code
    /// A human message naming the thing and the fix.
    public var message: String

    /// An error with `code` and `message`.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }

    /// The HTTP status the control API answers with.
    var httpStatus: Int {
        switch code.base {
        case .unknownShop, .unknownSKU, .unknownInventoryItem, .unknownOrder, .unknownLineItem: return 404
        case .insufficientStock, .orderState: return 409
        case .invalidRequest, .configuration: return 422
        case .startup: return 500
        }
    }
}
