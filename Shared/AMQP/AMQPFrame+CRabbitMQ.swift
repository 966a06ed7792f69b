import CRabbitMQ

// MARK: - Method ids (rabbitmq-c defines them as casts, which Swift does not import)

enum MethodID {
    static let connectionClose: amqp_method_number_t = 0x000A_0032
    static let connectionCloseOk: amqp_method_number_t = 0x000A_0033
    static let connectionBlocked: amqp_method_number_t = 0x000A_003C
    static let connectionUnblocked: amqp_method_number_t = 0x000A_003D
    static let channelClose: amqp_method_number_t = 0x0014_0028
    static let channelCloseOk: amqp_method_number_t = 0x0014_0029
    static let basicCancel: amqp_method_number_t = 0x003C_001E
    static let basicCancelOk: amqp_method_number_t = 0x003C_001F
    static let basicReturn: amqp_method_number_t = 0x003C_0032
    static let basicDeliver: amqp_method_number_t = 0x003C_003C
    static let basicAck: amqp_method_number_t = 0x003C_0050
    static let basicNack: amqp_method_number_t = 0x003C_0078
}

// MARK: - Decoding rabbitmq-c's frames (the one place that reads `amqp_frame_t`)

extension AMQPFrame {
    /// Copies what the protocol machine needs out of a frame rabbitmq-c decoded (its memory is only valid until the
    /// next read); nil for a frame of no interest (heartbeat, a header without decoded properties).
    init?(_ frame: amqp_frame_t) {
        var frame = frame
        switch Int32(frame.frame_type) {
        case AMQP_FRAME_METHOD:
            self = .method(channel: frame.channel, Method(stockwire_frame_method(&frame)))
        case AMQP_FRAME_HEADER:
            guard let decoded = stockwire_frame_properties(&frame) else { return nil }
            self = .header(
                channel: frame.channel, bodySize: stockwire_frame_body_size(&frame),
                properties: AMQPProperties(decoded.pointee))
        case AMQP_FRAME_BODY:
            let fragment = stockwire_frame_body(&frame)
            guard fragment.len > 0, let bytes = fragment.bytes else {
                self = .body(channel: frame.channel, [])
                return
            }
            self = .body(channel: frame.channel, Array(UnsafeRawBufferPointer(start: bytes, count: fragment.len)))
        default:
            return nil
        }
    }
}

extension AMQPFrame.Method {
    init(_ method: amqp_method_t) {
        switch method.id {
        case MethodID.basicDeliver:
            let d = method.decoded.assumingMemoryBound(to: amqp_basic_deliver_t.self).pointee
            self = .basicDeliver(
                deliveryTag: d.delivery_tag, redelivered: d.redelivered != 0, exchange: d.exchange.string,
                routingKey: d.routing_key.string)
        case MethodID.basicReturn:
            let r = method.decoded.assumingMemoryBound(to: amqp_basic_return_t.self).pointee
            self = .basicReturn(replyCode: r.reply_code, replyText: r.reply_text.string)
        case MethodID.basicAck:
            let a = method.decoded.assumingMemoryBound(to: amqp_basic_ack_t.self).pointee
            self = .basicAck(deliveryTag: a.delivery_tag, multiple: a.multiple != 0)
        case MethodID.basicNack:
            let n = method.decoded.assumingMemoryBound(to: amqp_basic_nack_t.self).pointee
            self = .basicNack(deliveryTag: n.delivery_tag, multiple: n.multiple != 0)
        case MethodID.basicCancel:
            self = .basicCancel
        case MethodID.channelClose:
            let c = method.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
            self = .channelClose(replyCode: c.reply_code, replyText: c.reply_text.string)
        case MethodID.connectionClose:
            let c = method.decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
            self = .connectionClose(replyCode: c.reply_code, replyText: c.reply_text.string)
        case MethodID.connectionBlocked:
            let b = method.decoded.assumingMemoryBound(to: amqp_connection_blocked_t.self).pointee
            self = .connectionBlocked(reason: b.reason.string)
        case MethodID.connectionUnblocked:
            self = .connectionUnblocked
        default:
            self = .other(id: method.id)
        }
    }
}

extension AMQPProperties {
    init(_ p: amqp_basic_properties_t) {
        let f = p._flags
        func has(_ flag: Int32) -> Bool { f & UInt32(flag) != 0 }
        self.init(
            contentType: has(AMQP_BASIC_CONTENT_TYPE_FLAG) ? p.content_type.string : nil,
            messageId: has(AMQP_BASIC_MESSAGE_ID_FLAG) ? p.message_id.string : nil,
            timestamp: has(AMQP_BASIC_TIMESTAMP_FLAG) ? p.timestamp : nil,
            type: has(AMQP_BASIC_TYPE_FLAG) ? p.type.string : nil,
            correlationId: has(AMQP_BASIC_CORRELATION_ID_FLAG) ? p.correlation_id.string : nil,
            headers: has(AMQP_BASIC_HEADERS_FLAG) ? AMQPValue.dictionary(p.headers) : [:],
            persistent: has(AMQP_BASIC_DELIVERY_MODE_FLAG) && p.delivery_mode == 2)
    }
}
