import AMQP

extension AMQPConnection {
    /// Takes `count` messages off `queue` (acknowledged), in the order they come; throws when they have not all come
    /// within `timeout`.
    public func take(_ count: Int, from queue: String, timeout: Duration = .seconds(20)) async throws -> [AMQPDelivery] {
        guard count > 0 else { return [] }
        let consumer = consume(queue: queue, prefetch: UInt16(min(count, 1000)))
        defer { consumer.cancel() }
        return try await withThrowingTaskGroup(of: [AMQPDelivery]?.self) { group in
            group.addTask {
                var out: [AMQPDelivery] = []
                for try await d in consumer {
                    d.ack()
                    out.append(d)
                    if out.count == count { break }
                }
                return out
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            let first = try await group.next()!
            group.cancelAll()
            guard let deliveries = first else {
                throw TestFailure("only some of \(count) messages arrived in \(queue) within \(timeout)")
            }
            return deliveries
        }
    }
}
