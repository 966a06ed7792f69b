import CRabbitMQ
import Foundation
import Logging

#if canImport(Glibc)
    import Glibc
#endif

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

/// The I/O thread of one ``AMQPConnection``: owns the rabbitmq-c connection and everything tied to it.
///
/// Only this thread touches the C state, the confirm tracker and the consumer table, so none of it needs a lock;
/// callers reach it through the ``ConnectionMailbox``.
final class ConnectionWorker {
    private let configuration: AMQPConfiguration
    private var topology: [AMQPTopology]
    private let mailbox: ConnectionMailbox
    private var logger: Logger

    private var conn: amqp_connection_state_t?
    private var socketFD: Int32 = -1
    private var generation: UInt64 = 0
    /// Numbers every subscription of every consumer, so that a delivery can tell whether its subscription still stands.
    private var lastSubscription: UInt64 = 0
    /// The node of ``AMQPConfiguration/endpoints`` tried first: the one that served last; at first a random one, so
    /// that the services' connections (and the queues they declare, led by the node a declaring client is connected
    /// to) spread over the cluster instead of all landing on the first node of the list.
    private var endpointIndex = 0
    private var tracker = ConfirmTracker<CheckedContinuation<Void, any Error>>()
    private var consumers: [Int: ConsumerRecord] = [:]
    private var consumerByChannel: [UInt16: Int] = [:]
    private var nextChannel: UInt16 = Channel.firstConsumer
    private var partial: [UInt16: PartialMessage] = [:]
    private var blockedReason: String?
    private var lastReceived = ContinuousClock.now
    private var nextExpiryCheck = ContinuousClock.now
    private var shutdown: CheckedContinuation<Void, Never>?

    private enum Channel {
        static let control: UInt16 = 1
        static let publish: UInt16 = 2
        static let firstConsumer: UInt16 = 3
    }

    private struct ConsumerRecord {
        let spec: ConsumerSpec
        var channel: UInt16 = 0
        var consumerTag = ""
        /// The number of its current subscription (``ConnectionMailbox/State/subscriptions``).
        var subscription: UInt64 = 0
    }

    private struct PartialMessage {
        enum Kind {
            case delivery(tag: UInt64, redelivered: Bool, exchange: String, routingKey: String)
            case returned(replyCode: UInt16, replyText: String)
        }
        let kind: Kind
        var properties = AMQPProperties(persistent: false)
        var expected: Int = -1
        var body: [UInt8] = []
    }

    init(configuration: AMQPConfiguration, topology: [AMQPTopology], mailbox: ConnectionMailbox, logger: Logger) {
        self.configuration = configuration
        self.topology = topology
        self.mailbox = mailbox
        self.logger = logger
        endpointIndex = Int.random(in: 0..<configuration.endpoints.count)
    }

    // MARK: - Life cycle

    /// Connects, serves, reconnects with backoff; returns once shut down.
    func run() {
        var delay = configuration.reconnectDelay
        while shutdown == nil {
            var connected = false
            do {
                try connect()
                connected = true
                delay = configuration.reconnectDelay
                try serve()
            } catch {
                let reason = (error as? AMQPError)?.message ?? "\(error)"
                if shutdown == nil {
                    logger.warning(
                        connected ? "AMQP connection lost, reconnecting" : "AMQP connection failed, retrying",
                        metadata: [
                            "broker": "\(configuration.redactedURL)", "reason": "\(reason)",
                            "retry_in": "\(delay)",
                        ])
                }
                teardown(reason: reason)
            }
            if shutdown != nil { break }
            idle(for: delay)
            delay = min(delay * 2, configuration.reconnectMaxDelay)
        }
        finish()
    }

    private func finish() {
        teardown(reason: "closed by its owner")
        mailbox.state.withLock { s in
            s.status = .closed
            s.closed = true
        }
        for command in mailbox.take() { mailbox.reject(command) }
        for record in consumers.values { record.spec.continuation.finish() }
        consumers.removeAll()
        shutdown?.resume()
    }

    /// Waits before a reconnect, answering commands meanwhile (there is no broker to carry them out).
    private func idle(for delay: Duration) {
        let until = ContinuousClock.now + delay
        while shutdown == nil {
            for command in mailbox.take() { handleDisconnected(command) }
            let left = until - ContinuousClock.now
            if left <= .zero { return }
            if mailbox.prepareSleep() {
                var fd = pollfd(fd: mailbox.wakeFD, events: Int16(POLLIN), revents: 0)
                _ = poll(&fd, 1, Int32(left.milliseconds))
                mailbox.awake()
            }
        }
    }

    private func handleDisconnected(_ command: ConnectionCommand) {
        let error = AMQPError(.notConnected, "not connected to \(configuration.redactedURL), reconnecting")
        switch command {
        case .publish(_, _, let c): c.resume(throwing: error)
        case .declare(_, _, let c): c.resume(throwing: error)
        case .inspect(_, let c): c.resume(throwing: error)
        case .purge(_, let c): c.resume(throwing: error)
        case .deleteQueue(_, let c), .deleteExchange(_, let c): c.resume(throwing: error)
        case .consume(let spec): consumers[spec.id] = ConsumerRecord(spec: spec)
        case .cancel(let id, _): consumers.removeValue(forKey: id)?.spec.continuation.finish()
        case .shutdown(let c): shutdown = c
        case .ack, .nack: break
        }
    }

    // MARK: - Connecting

    /// Connects to the node that served last, or else to the next one of a cluster's list that answers: a node
    /// killed, paused in a minority or restarting refuses at once, so the round costs milliseconds.
    private func connect() throws {
        let endpoints = configuration.endpoints
        var failures: [String] = []
        for step in 0..<endpoints.count {
            let index = (endpointIndex + step) % endpoints.count
            do {
                try connect(to: endpoints[index])
                if step > 0 {
                    logger.info(
                        "AMQP failed over to another node",
                        metadata: ["broker": "\(configuration.redactedURL(endpoints[index]))", "tried": "\(failures)"])
                }
                endpointIndex = index
                return
            } catch {
                guard endpoints.count > 1 else { throw error }
                failures.append("\(endpoints[index]): \((error as? AMQPError)?.message ?? "\(error)")")
                teardown(reason: "node \(endpoints[index]) did not answer")
            }
        }
        endpointIndex = (endpointIndex + 1) % endpoints.count
        throw AMQPError(.connectionFailed, "no node of the cluster answered: \(failures.joined(separator: "; "))")
    }

    private func connect(to endpoint: AMQPConfiguration.Endpoint) throws {
        mailbox.state.withLock { $0.status = .connecting }
        guard let state = amqp_new_connection() else {
            throw AMQPError(.connectionFailed, "rabbitmq-c could not allocate a connection")
        }
        conn = state
        guard let socket = amqp_tcp_socket_new(state) else {
            throw AMQPError(.connectionFailed, "rabbitmq-c could not create a TCP socket")
        }
        var timeout = timeval(duration: configuration.connectTimeout)
        let opened = amqp_socket_open_noblock(socket, endpoint.host, Int32(endpoint.port), &timeout)
        guard opened == AMQP_STATUS_OK.rawValue else {
            throw AMQPError(.connectionFailed, "cannot reach RabbitMQ at \(endpoint): \(statusText(opened))")
        }
        amqp_set_handshake_timeout(state, &timeout)
        var rpcTimeout = timeval(duration: .seconds(30))
        amqp_set_rpc_timeout(state, &rpcTimeout)

        let arena = CArena()
        let capabilities: [String: AMQPValue] = [
            "connection.blocked": true, "consumer_cancel_notify": true, "publisher_confirms": true,
            "basic.nack": true, "exchange_exchange_bindings": true, "authentication_failure_close": true,
        ]
        var properties = arena.table([
            "capabilities": .table(capabilities), "connection_name": .string(configuration.connectionName),
            "product": "Stockwire",
        ])
        let heartbeat = Int32(configuration.heartbeat.seconds)
        let reply = stockwire_amqp_login_plain(
            state, configuration.virtualHost, 0, Int32(AMQP_DEFAULT_FRAME_SIZE), heartbeat, &properties,
            configuration.user, configuration.password)
        if reply.reply_type != AMQP_RESPONSE_NORMAL {
            throw AMQPError(
                .connectionFailed,
                "login to \(configuration.redactedURL(endpoint)) failed: \(describe(reply)) (check user, password and vhost)")
        }
        socketFD = amqp_get_sockfd(state)
        if heartbeat > 0 {
            // A send blocked on a dead peer (a cut network, a half-open connection) never returns on its own, and
            // heartbeats are only checked between calls: with TCP_USER_TIMEOUT (18 on Linux) the kernel fails it
            // once data or a zero-window probe has gone unacknowledged for two heartbeats.
            var milliseconds = UInt32(heartbeat) * 2_000
            setsockopt(socketFD, Int32(IPPROTO_TCP), 18, &milliseconds, socklen_t(MemoryLayout<UInt32>.size))
        }
        generation += 1
        tracker = ConfirmTracker()
        partial.removeAll()
        blockedReason = nil
        lastReceived = .now

        try openChannel(Channel.control)
        for item in topology { try declare(item) }
        try openPublishChannel()
        for id in consumers.keys.sorted() { try subscribe(id) }
        mailbox.state.withLock { s in
            s.generation = generation
            s.status = .ready
        }
        logger.info(
            "AMQP connected",
            metadata: ["broker": "\(configuration.redactedURL(endpoint))", "generation": "\(generation)"])
    }

    private func teardown(reason: String) {
        mailbox.state.withLock { s in
            if s.status != .closed {
                if s.generation != 0 { s.connectionsLost += 1 }
                s.status = .disconnected(reason: reason)
            }
            s.generation = 0
            s.subscriptions.removeAll()
        }
        let lost = AMQPError(.connectionLost, "connection to \(configuration.redactedURL) lost: \(reason)")
        for (c, _) in tracker.failAll() { c.resume(throwing: lost) }
        partial.removeAll()
        consumerByChannel.removeAll()
        nextChannel = Channel.firstConsumer
        if let state = conn {
            amqp_destroy_connection(state)
            conn = nil
        }
        socketFD = -1
    }

    private func openChannel(_ channel: UInt16) throws {
        amqp_channel_open(conn, channel)
        try check(amqp_get_rpc_reply(conn), channel: channel, what: "open channel \(channel)")
    }

    private func openPublishChannel() throws {
        try openChannel(Channel.publish)
        amqp_confirm_select(conn, Channel.publish)
        try check(amqp_get_rpc_reply(conn), channel: Channel.publish, what: "enable publisher confirms")
        tracker = ConfirmTracker()
    }

    // MARK: - Serving

    private func serve() throws {
        while true {
            let commands = mailbox.take()
            for (i, command) in commands.enumerated() {
                do {
                    try handle(command)
                } catch {
                    // The connection failed under this command: the commands taken with it are answered as if it
                    // had failed before they came, never dropped (a dropped publish left its caller waiting for ever).
                    for rest in commands[(i + 1)...] { handleDisconnected(rest) }
                    throw error
                }
            }
            if shutdown != nil {
                try drainAndClose()
                return
            }
            let now = ContinuousClock.now
            if now >= nextExpiryCheck {
                nextExpiryCheck = now + .milliseconds(20)
                for (c, _) in tracker.expire(now: now) {
                    c.resume(throwing: AMQPError(.confirmTimeout, "no publisher confirm within the deadline"))
                }
            }
            var frames = 0
            while frames < 4096 {
                guard let frame = try nextFrame() else { break }
                try handle(frame: frame)
                frames += 1
            }
            if frames > 0 { amqp_maybe_release_buffers(conn) }
            if now - lastReceived > configuration.heartbeat * 2 {
                throw AMQPError(
                    .connectionLost, "broker silent for more than two heartbeats (\(configuration.heartbeat * 2))")
            }
            if frames == 0 && commands.isEmpty { waitForWork() }
        }
    }

    /// Sleeps until the socket has data, a command arrives, or the next timer (heartbeat, confirm deadline) is due.
    private func waitForWork() {
        if amqp_data_in_buffer(conn) != 0 || amqp_frames_enqueued(conn) != 0 { return }
        guard mailbox.prepareSleep() else { return }
        // At most a second, so a silent broker is noticed within two heartbeats, not two and a half.
        var limit = min(configuration.heartbeat / 2, .seconds(1))
        if let deadline = tracker.earliestDeadline {
            limit = min(limit, max(.zero, deadline - .now) + .milliseconds(1))
        }
        var fds = [
            pollfd(fd: mailbox.wakeFD, events: Int16(POLLIN), revents: 0),
            pollfd(fd: socketFD, events: Int16(POLLIN), revents: 0),
        ]
        _ = poll(&fds, 2, Int32(max(1, limit.milliseconds)))
        if fds[1].revents != 0 { lastReceived = .now }
        mailbox.awake()
    }

    /// The next decoded frame if one is available without waiting; nil when none is.
    private func nextFrame() throws -> amqp_frame_t? {
        var frame = amqp_frame_t()
        var immediate = timeval(tv_sec: 0, tv_usec: 0)
        let rc = amqp_simple_wait_frame_noblock(conn, &frame, &immediate)
        if rc == AMQP_STATUS_TIMEOUT.rawValue { return nil }
        guard rc == AMQP_STATUS_OK.rawValue else {
            throw AMQPError(.connectionLost, "reading from the broker failed: \(statusText(rc))")
        }
        lastReceived = .now
        return frame
    }

    private func drainAndClose() throws {
        let until = ContinuousClock.now + .seconds(2)
        while tracker.waiting > 0 && ContinuousClock.now < until {
            guard let frame = try nextFrame() else {
                var fd = pollfd(fd: socketFD, events: Int16(POLLIN), revents: 0)
                _ = poll(&fd, 1, 10)
                continue
            }
            try handle(frame: frame)
        }
        _ = amqp_connection_close(conn, AMQP_REPLY_SUCCESS)
        logger.info("AMQP connection closed", metadata: ["broker": "\(configuration.redactedURL)"])
    }

    // MARK: - Commands

    private func handle(_ command: ConnectionCommand) throws {
        switch command {
        case .publish(let message, let deadline, let c):
            if let reason = blockedReason {
                c.resume(throwing: AMQPError(.blocked, "broker blocked publishing: \(reason)"))
                return
            }
            try publish(message, deadline: deadline, continuation: c)
        case .ack(let channel, let gen, let tag, let multiple):
            guard gen == generation, consumerByChannel[channel] != nil else { return }
            try status(amqp_basic_ack(conn, channel, tag, multiple ? 1 : 0), "basic.ack")
        case .nack(let channel, let gen, let tag, let multiple, let requeue):
            guard gen == generation, consumerByChannel[channel] != nil else { return }
            try status(amqp_basic_nack(conn, channel, tag, multiple ? 1 : 0, requeue ? 1 : 0), "basic.nack")
        case .declare(let items, let remember, let c):
            try answer(c) {
                for item in items { try declare(item) }
                if remember { topology.append(contentsOf: items.filter { !topology.contains($0) }) }
            }
        case .inspect(let queue, let c):
            try answer(c) {
                let arena = CArena()
                let ok = amqp_queue_declare(conn, Channel.control, arena.bytes(queue), 1, 0, 0, 0, amqp_empty_table)
                try check(amqp_get_rpc_reply(conn), channel: Channel.control, what: "inspect queue \(queue)")
                return AMQPQueueInfo(messages: ok!.pointee.message_count, consumers: ok!.pointee.consumer_count)
            }
        case .purge(let queue, let c):
            try answer(c) {
                let arena = CArena()
                let ok = amqp_queue_purge(conn, Channel.control, arena.bytes(queue))
                try check(amqp_get_rpc_reply(conn), channel: Channel.control, what: "purge queue \(queue)")
                return ok!.pointee.message_count
            }
        case .deleteQueue(let queue, let c):
            try answer(c) {
                let arena = CArena()
                amqp_queue_delete(conn, Channel.control, arena.bytes(queue), 0, 0)
                try check(amqp_get_rpc_reply(conn), channel: Channel.control, what: "delete queue \(queue)")
                topology.removeAll { item in
                    if case .queue(let name, _) = item { return name == queue }
                    if case .binding(let q, _, _, _) = item { return q == queue }
                    return false
                }
            }
        case .deleteExchange(let exchange, let c):
            try answer(c) {
                let arena = CArena()
                amqp_exchange_delete(conn, Channel.control, arena.bytes(exchange), 0)
                try check(amqp_get_rpc_reply(conn), channel: Channel.control, what: "delete exchange \(exchange)")
                topology.removeAll { item in
                    if case .exchange(let name, _, _) = item { return name == exchange }
                    if case .binding(_, let e, _, _) = item { return e == exchange }
                    return false
                }
            }
        case .consume(let spec):
            consumers[spec.id] = ConsumerRecord(spec: spec)
            try subscribe(spec.id)
        case .cancel(let id, let release):
            guard let record = consumers.removeValue(forKey: id) else { return }
            // Cancelled without release, its unacknowledged deliveries stay its own until the connection closes.
            if release { endSubscription(of: id) }
            defer { record.spec.continuation.finish() }
            if record.channel != 0 && release {
                consumerByChannel[record.channel] = nil
                amqp_channel_close(conn, record.channel, AMQP_REPLY_SUCCESS)
                try check(amqp_get_rpc_reply(conn), channel: record.channel, what: "release consumer of \(record.spec.queue)")
            } else if record.channel != 0 {
                // basic.cancel, not channel.close: closing the channel right after acks can lose those acks (a
                // quorum queue settles them asynchronously) and requeue messages that were handled. The channel
                // stays open so that acks still in flight for this consumer reach the broker.
                let arena = CArena()
                amqp_basic_cancel(conn, record.channel, arena.bytes(record.consumerTag))
                try check(amqp_get_rpc_reply(conn), channel: record.channel, what: "cancel consumer of \(record.spec.queue)")
            }
        case .shutdown(let c):
            shutdown = c
        }
    }

    /// Runs a control command and answers its caller either way. A channel the broker closed (reopened by `check`)
    /// fails only this command; any other error means the connection is lost: the caller is told, and the error is
    /// thrown on so that the worker reconnects.
    private func answer<T>(_ c: CheckedContinuation<T, any Error>, _ body: () throws -> T) throws {
        let result: T
        do {
            result = try body()
        } catch {
            c.resume(throwing: error)
            if (error as? AMQPError)?.code != .channelClosed { throw error }
            return
        }
        c.resume(returning: result)
    }

    private func publish(
        _ message: AMQPMessage, deadline: ContinuousClock.Instant?, continuation: CheckedContinuation<Void, any Error>
    ) throws {
        let arena = CArena()
        var props = amqp_basic_properties_t()
        var flags: UInt32 = UInt32(AMQP_BASIC_DELIVERY_MODE_FLAG)
        props.delivery_mode = message.properties.persistent ? 2 : 1
        let p = message.properties
        if let v = p.contentType {
            props.content_type = arena.bytes(v)
            flags |= UInt32(AMQP_BASIC_CONTENT_TYPE_FLAG)
        }
        if let v = p.messageId {
            props.message_id = arena.bytes(v)
            flags |= UInt32(AMQP_BASIC_MESSAGE_ID_FLAG)
        }
        if let v = p.type {
            props.type = arena.bytes(v)
            flags |= UInt32(AMQP_BASIC_TYPE_FLAG)
        }
        if let v = p.correlationId {
            props.correlation_id = arena.bytes(v)
            flags |= UInt32(AMQP_BASIC_CORRELATION_ID_FLAG)
        }
        if let v = p.timestamp {
            props.timestamp = v
            flags |= UInt32(AMQP_BASIC_TIMESTAMP_FLAG)
        }
        if !p.headers.isEmpty {
            props.headers = arena.table(p.headers)
            flags |= UInt32(AMQP_BASIC_HEADERS_FLAG)
        }
        props._flags = flags
        let body = message.body.withUnsafeBytes { raw in
            amqp_bytes_t(len: raw.count, bytes: UnsafeMutableRawPointer(mutating: raw.baseAddress))
        }
        // A return carries no delivery tag, only the message's properties: give every message an id so that a
        // return can be matched to its publish (Stockwire's own messages always carry one).
        let messageId = p.messageId ?? "stockwire-\(generation)-\(tracker.nextTag)"
        if p.messageId == nil {
            props.message_id = arena.bytes(messageId)
            props._flags |= UInt32(AMQP_BASIC_MESSAGE_ID_FLAG)
        }
        _ = tracker.register(continuation, messageId: messageId, deadline: deadline)
        if let deadline, deadline < nextExpiryCheck { nextExpiryCheck = deadline }
        let rc = message.body.withUnsafeBytes { raw -> Int32 in
            var b = body
            b.bytes = UnsafeMutableRawPointer(mutating: raw.baseAddress)
            return amqp_basic_publish(
                conn, Channel.publish, arena.bytes(message.exchange), arena.bytes(message.routingKey),
                message.mandatory ? 1 : 0, 0, &props, b)
        }
        try status(rc, "basic.publish")
    }

    // MARK: - Topology

    private func declare(_ item: AMQPTopology) throws {
        let arena = CArena()
        switch item.replicated(configuration.replicas) {
        case .exchange(let name, let kind, let arguments):
            amqp_exchange_declare(
                conn, Channel.control, arena.bytes(name), arena.bytes(kind.rawValue), 0, 1, 0, 0,
                arena.table(arguments))
            try check(amqp_get_rpc_reply(conn), channel: Channel.control, what: "declare exchange \(name)")
        case .queue(let name, let arguments):
            amqp_queue_declare(conn, Channel.control, arena.bytes(name), 0, 1, 0, 0, arena.table(arguments))
            try check(amqp_get_rpc_reply(conn), channel: Channel.control, what: "declare queue \(name)")
        case .binding(let queue, let exchange, let key, let arguments):
            amqp_queue_bind(
                conn, Channel.control, arena.bytes(queue), arena.bytes(exchange), arena.bytes(key),
                arena.table(arguments))
            try check(
                amqp_get_rpc_reply(conn), channel: Channel.control, what: "bind \(queue) to \(exchange) (\(key))")
        }
    }

    private func subscribe(_ id: Int) throws {
        guard var record = consumers[id] else { return }
        let channel = allocateChannel()
        let spec = record.spec
        do {
            try openChannel(channel)
            amqp_basic_qos(conn, channel, 0, spec.prefetch, 0)
            try check(amqp_get_rpc_reply(conn), channel: channel, what: "set prefetch for \(spec.queue)")
            let arena = CArena()
            let ok = amqp_basic_consume(
                conn, channel, arena.bytes(spec.queue), amqp_empty_bytes, 0, 0, 0, arena.table(spec.arguments))
            try check(amqp_get_rpc_reply(conn), channel: channel, what: "consume from \(spec.queue)")
            record.consumerTag = ok?.pointee.consumer_tag.string ?? ""
        } catch let error as AMQPError where error.code == .channelClosed {
            consumers[id] = nil
            spec.continuation.finish(throwing: error)
            return
        }
        lastSubscription += 1
        record.channel = channel
        record.subscription = lastSubscription
        consumers[id] = record
        consumerByChannel[channel] = id
        mailbox.state.withLock { $0.subscriptions[id] = lastSubscription }
    }

    /// The consumer's subscription is over: its unacknowledged deliveries are no longer its own.
    private func endSubscription(of id: Int) {
        _ = mailbox.state.withLock { $0.subscriptions.removeValue(forKey: id) }
    }

    private func allocateChannel() -> UInt16 {
        while consumerByChannel[nextChannel] != nil || nextChannel < Channel.firstConsumer {
            nextChannel = nextChannel == UInt16.max ? Channel.firstConsumer : nextChannel + 1
        }
        defer { nextChannel = nextChannel == UInt16.max ? Channel.firstConsumer : nextChannel + 1 }
        return nextChannel
    }

    // MARK: - Frames

    private func handle(frame: amqp_frame_t) throws {
        var frame = frame
        switch Int32(frame.frame_type) {
        case AMQP_FRAME_METHOD:
            try handle(method: stockwire_frame_method(&frame), channel: frame.channel)
        case AMQP_FRAME_HEADER:
            guard var message = partial[frame.channel], let decoded = stockwire_frame_properties(&frame) else { return }
            message.properties = AMQPProperties(decoded.pointee)
            message.expected = Int(stockwire_frame_body_size(&frame))
            message.body.reserveCapacity(message.expected)
            partial[frame.channel] = message
            if message.expected == 0 { complete(channel: frame.channel) }
        case AMQP_FRAME_BODY:
            guard partial[frame.channel] != nil else { return }
            let fragment = stockwire_frame_body(&frame)
            if fragment.len > 0, let bytes = fragment.bytes {
                partial[frame.channel]!.body.append(
                    contentsOf: UnsafeRawBufferPointer(start: bytes, count: fragment.len))
            }
            if partial[frame.channel]!.body.count >= partial[frame.channel]!.expected {
                complete(channel: frame.channel)
            }
        default:
            break
        }
    }

    private func handle(method: amqp_method_t, channel: UInt16) throws {
        switch method.id {
        case MethodID.basicDeliver:
            let d = method.decoded.assumingMemoryBound(to: amqp_basic_deliver_t.self).pointee
            partial[channel] = PartialMessage(
                kind: .delivery(
                    tag: d.delivery_tag, redelivered: d.redelivered != 0, exchange: d.exchange.string,
                    routingKey: d.routing_key.string))
        case MethodID.basicAck:
            let a = method.decoded.assumingMemoryBound(to: amqp_basic_ack_t.self).pointee
            resolve(tracker.ack(tag: a.delivery_tag, multiple: a.multiple != 0))
        case MethodID.basicNack:
            let n = method.decoded.assumingMemoryBound(to: amqp_basic_nack_t.self).pointee
            resolve(tracker.nack(tag: n.delivery_tag, multiple: n.multiple != 0))
        case MethodID.basicReturn:
            let r = method.decoded.assumingMemoryBound(to: amqp_basic_return_t.self).pointee
            partial[channel] = PartialMessage(kind: .returned(replyCode: r.reply_code, replyText: r.reply_text.string))
        case MethodID.basicCancel:
            // The broker cancelled a consumer (queue deleted, or a quorum leader moved): subscribe again.
            guard let id = consumerByChannel.removeValue(forKey: channel) else { return }
            endSubscription(of: id)
            logger.warning(
                "broker cancelled a consumer, subscribing again", metadata: ["queue": "\(consumers[id]?.spec.queue ?? "?")"])
            amqp_channel_close(conn, channel, AMQP_REPLY_SUCCESS)
            try check(amqp_get_rpc_reply(conn), channel: channel, what: "close cancelled consumer channel")
            try subscribe(id)
        case MethodID.channelClose:
            let c = method.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
            try channelClosedByBroker(channel, code: c.reply_code, text: c.reply_text.string)
        case MethodID.connectionClose:
            let c = method.decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
            var ok = amqp_connection_close_ok_t(dummy: 0)
            amqp_send_method(conn, 0, MethodID.connectionCloseOk, &ok)
            throw AMQPError(
                .connectionLost, "broker closed the connection: \(c.reply_text.string)", replyCode: c.reply_code)
        case MethodID.connectionBlocked:
            let b = method.decoded.assumingMemoryBound(to: amqp_connection_blocked_t.self).pointee
            let reason = b.reason.string
            blockedReason = reason
            mailbox.state.withLock { $0.status = .blocked(reason: reason) }
            logger.warning("broker blocked publishing", metadata: ["reason": "\(reason)"])
        case MethodID.connectionUnblocked:
            blockedReason = nil
            mailbox.state.withLock { $0.status = .ready }
            logger.info("broker unblocked publishing")
        default:
            break
        }
    }

    private func channelClosedByBroker(_ channel: UInt16, code: UInt16, text: String) throws {
        var ok = amqp_channel_close_ok_t(dummy: 0)
        amqp_send_method(conn, channel, MethodID.channelCloseOk, &ok)
        partial[channel] = nil
        logger.warning("broker closed a channel", metadata: ["channel": "\(channel)", "code": "\(code)", "reason": "\(text)"])
        if channel == Channel.publish {
            let error = AMQPError(.channelClosed, "publish failed: \(text)", replyCode: code)
            for (c, _) in tracker.failAll() { c.resume(throwing: error) }
            try openPublishChannel()
        } else if channel == Channel.control {
            try openChannel(Channel.control)
        } else if let id = consumerByChannel.removeValue(forKey: channel) {
            endSubscription(of: id)
            try subscribe(id)
        }
    }

    private func complete(channel: UInt16) {
        guard let message = partial.removeValue(forKey: channel) else { return }
        switch message.kind {
        case .delivery(let tag, let redelivered, let exchange, let routingKey):
            guard let id = consumerByChannel[channel], let record = consumers[id] else { return }
            record.spec.continuation.yield(
                AMQPDelivery(
                    body: message.body, properties: message.properties, exchange: exchange, routingKey: routingKey,
                    redelivered: redelivered, deliveryTag: tag, channel: channel, generation: generation,
                    consumer: id, subscription: record.subscription, mailbox: mailbox))
        case .returned(let code, let text):
            logger.debug(
                "message returned by the broker",
                metadata: ["message_id": "\(message.properties.messageId ?? "-")", "code": "\(code)", "reason": "\(text)"])
            tracker.returned(messageId: message.properties.messageId)
        }
    }

    private func resolve(
        _ outcomes: [(CheckedContinuation<Void, any Error>, ConfirmTracker<CheckedContinuation<Void, any Error>>.Outcome)]
    ) {
        for (c, outcome) in outcomes {
            switch outcome {
            case .confirmed: c.resume()
            case .nacked: c.resume(throwing: AMQPError(.nacked, "the broker refused the message (basic.nack)"))
            case .unroutable:
                c.resume(throwing: AMQPError(.unroutable, "no queue is bound to take the message (basic.return)"))
            case .timedOut: c.resume(throwing: AMQPError(.confirmTimeout, "no publisher confirm within the deadline"))
            case .lost: c.resume(throwing: AMQPError(.connectionLost, "connection lost before the confirm"))
            }
        }
    }

    // MARK: - Errors

    private func status(_ rc: Int32, _ what: String) throws {
        guard rc == AMQP_STATUS_OK.rawValue else {
            throw AMQPError(.connectionLost, "\(what) failed: \(statusText(rc))")
        }
    }

    /// Turns an RPC reply into a thrown error; a channel the broker closed is acknowledged and re-opened.
    private func check(_ reply: amqp_rpc_reply_t, channel: UInt16, what: String) throws {
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            // An RPC reads its frames inside rabbitmq-c; a reply is proof of life for the dead-peer check (a
            // quorum-queue declare on a busy broker can take longer than two heartbeats).
            lastReceived = .now
            return
        case AMQP_RESPONSE_SERVER_EXCEPTION where reply.reply.id == MethodID.channelClose:
            let c = reply.reply.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
            let text = c.reply_text.string
            var ok = amqp_channel_close_ok_t(dummy: 0)
            amqp_send_method(conn, channel, MethodID.channelCloseOk, &ok)
            if channel == Channel.control || channel == Channel.publish {
                if channel == Channel.publish {
                    let error = AMQPError(.channelClosed, "publish failed: \(text)", replyCode: c.reply_code)
                    for (cont, _) in tracker.failAll() { cont.resume(throwing: error) }
                    try openPublishChannel()
                } else {
                    try openChannel(channel)
                }
            }
            throw AMQPError(.channelClosed, "\(what): broker refused: \(text)", replyCode: c.reply_code)
        default:
            throw AMQPError(.connectionLost, "\(what): \(describe(reply))")
        }
    }

    private func describe(_ reply: amqp_rpc_reply_t) -> String {
        switch reply.reply_type {
        case AMQP_RESPONSE_NONE: return "no reply"
        case AMQP_RESPONSE_LIBRARY_EXCEPTION: return statusText(reply.library_error)
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            if reply.reply.id == MethodID.connectionClose {
                let c = reply.reply.decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
                return "broker closed the connection (\(c.reply_code)): \(c.reply_text.string)"
            }
            if reply.reply.id == MethodID.channelClose {
                let c = reply.reply.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
                return "broker closed the channel (\(c.reply_code)): \(c.reply_text.string)"
            }
            return "broker exception (method \(reply.reply.id))"
        default: return "unknown reply"
        }
    }

    private func statusText(_ rc: Int32) -> String {
        String(cString: amqp_error_string2(rc))
    }
}

// MARK: - Helpers

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

extension timeval {
    init(duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self.init(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (s, a) = components
        return s * 1000 + a / 1_000_000_000_000_000
    }

    var seconds: Int64 { components.seconds }
}
