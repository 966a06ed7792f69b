import Contracts

extension Dictionary where Key == ShopDomain {
    /// The same map keyed by each domain's normalised text: how messages (``AvailabilityMessage``'s per-shop maps)
    /// carry it, as a JSON object.
    package var byDomainText: [String: Value] {
        Dictionary<String, Value>(uniqueKeysWithValues: map { ($0.key.description, $0.value) })
    }
}
