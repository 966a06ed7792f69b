import Contracts

/// A domain written in a test's source; an implausible literal is the test's mistake and traps. Only tests may write a
/// domain as a literal: in the services, a domain is always text from outside, checked by the throwing initialiser,
/// and code that wrote one as a literal would not compile.
extension ShopDomain: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) {
        do {
            try self.init(value)
        } catch {
            preconditionFailure("\(error)")
        }
    }
}
