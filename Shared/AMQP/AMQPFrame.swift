/// One frame read from the broker, decoded into what ``AMQPProtocolMachine`` needs of it.
///
/// Only the driver builds these from rabbitmq-c's frames (`AMQPFrame+CRabbitMQ.swift`); the machine and its tests
/// see plain Swift values.
enum AMQPFrame: Equatable, Sendable {
    /// A method frame.
    case method(channel: UInt16, Method)
    /// A content header: announces the size of the body that follows in body frames, and carries the properties.
    case header(channel: UInt16, bodySize: UInt64, properties: AMQPProperties)
    /// A body frame: the next fragment of the content announced by the header.
    case body(channel: UInt16, [UInt8])

    /// The methods the broker sends on its own (not as an RPC reply), with the fields Stockwire uses.
    enum Method: Equatable, Sendable {
        /// `basic.deliver`: a message for the consumer on this channel; header and body frames follow.
        case basicDeliver(deliveryTag: UInt64, redelivered: Bool, exchange: String, routingKey: String)
        /// `basic.return`: a mandatory message no queue took; header and body frames follow, then its ack.
        case basicReturn(replyCode: UInt16, replyText: String)
        /// `basic.ack` of a publish on a confirm-mode channel.
        case basicAck(deliveryTag: UInt64, multiple: Bool)
        /// `basic.nack` of a publish on a confirm-mode channel.
        case basicNack(deliveryTag: UInt64, multiple: Bool)
        /// `basic.cancel`: the broker cancelled the consumer on this channel (queue deleted, leader moved).
        case basicCancel
        /// `channel.close`: the broker closed this channel.
        case channelClose(replyCode: UInt16, replyText: String)
        /// `connection.close`: the broker closes the connection.
        case connectionClose(replyCode: UInt16, replyText: String)
        /// `connection.blocked`: the broker stopped reading publishes (memory or disk alarm).
        case connectionBlocked(reason: String)
        /// `connection.unblocked`: the alarm cleared.
        case connectionUnblocked
        /// Any other method, by its id: nothing to do.
        case other(id: UInt32)
    }
}
