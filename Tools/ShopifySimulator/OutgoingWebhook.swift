/// A webhook a state change produced, before it is signed and delivered.
struct OutgoingWebhook: Sendable {
    /// E.g. `orders/create`.
    var topic: String
    /// The raw JSON body (the REST resource), signed as is.
    var body: [UInt8]
}
