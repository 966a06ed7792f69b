import ArgumentParser
import Contracts

extension ShopDomain {
    /// The domain an operator gave as `option` (`--shop`, `--orders SHOP=FILE`, …); one that is not a shop domain is a
    /// usage error that names the option and the rule.
    init(option: String, _ text: some StringProtocol) throws {
        do {
            try self.init(text)
        } catch {
            throw ValidationError("\(option) \(text): \(error)")
        }
    }
}
