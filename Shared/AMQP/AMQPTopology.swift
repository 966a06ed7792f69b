/// One element of broker topology, declared idempotently at every (re)connect.
public enum AMQPTopology: Sendable, Equatable {
    /// Exchange kinds.
    public enum ExchangeKind: String, Sendable {
        case direct, fanout, topic, headers
    }

    /// A durable exchange.
    case exchange(name: String, kind: ExchangeKind, arguments: [String: AMQPValue] = [:])
    /// A durable queue (quorum, classic or stream through `x-queue-type`).
    case queue(name: String, arguments: [String: AMQPValue] = [:])
    /// A binding of a queue to an exchange.
    case binding(queue: String, exchange: String, routingKey: String, arguments: [String: AMQPValue] = [:])

    /// A quorum queue that dead-letters at least once to `deadLetterExchange`, with a bounded delivery count.
    ///
    /// At-least-once dead-lettering needs `x-overflow=reject-publish`: a full queue refuses new messages (the
    /// publisher sees a nack) instead of dropping its oldest.
    public static func quorumQueue(
        _ name: String, deadLetterExchange: String? = nil, deadLetterRoutingKey: String? = nil,
        deliveryLimit: Int? = nil, singleActiveConsumer: Bool = false, extra: [String: AMQPValue] = [:]
    ) -> AMQPTopology {
        var args: [String: AMQPValue] = ["x-queue-type": "quorum"]
        if let deadLetterExchange {
            args["x-dead-letter-exchange"] = .string(deadLetterExchange)
            args["x-dead-letter-strategy"] = "at-least-once"
            args["x-overflow"] = "reject-publish"
        }
        if let deadLetterRoutingKey { args["x-dead-letter-routing-key"] = .string(deadLetterRoutingKey) }
        if let deliveryLimit { args["x-delivery-limit"] = .int64(Int64(deliveryLimit)) }
        if singleActiveConsumer { args["x-single-active-consumer"] = true }
        args.merge(extra) { _, new in new }
        return .queue(name: name, arguments: args)
    }

    /// A stream with retention by age (e.g. `7D`, `24h`) and total size.
    public static func stream(_ name: String, maxAge: String, maxLengthBytes: Int64) -> AMQPTopology {
        .queue(
            name: name,
            arguments: [
                "x-queue-type": "stream", "x-max-age": .string(maxAge), "x-max-length-bytes": .int64(maxLengthBytes),
            ])
    }

    /// This element with its replica count declared: quorum queues and streams on `replicas` nodes; anything else,
    /// or nil, unchanged.
    public func replicated(_ replicas: Int?) -> AMQPTopology {
        guard let replicas, case .queue(let name, var arguments) = self else { return self }
        switch arguments["x-queue-type"] {
        case .string("quorum"): arguments["x-quorum-initial-group-size"] = .int64(Int64(replicas))
        case .string("stream"): arguments["x-initial-cluster-size"] = .int64(Int64(replicas))
        default: return self
        }
        return .queue(name: name, arguments: arguments)
    }
}
