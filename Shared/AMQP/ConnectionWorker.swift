import CRabbitMQ
import Foundation
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// The I/O thread of one ``AMQPConnection``: owns the rabbitmq-c connection and everything tied to it.
///
/// It is the driver of an ``AMQPProtocolMachine``: it reads frames and commands, feeds them to the machine, and
/// performs the machine's actions (C calls, continuations, the mailbox's status, logs). The protocol decisions are
/// the machine's; the RPCs (connect, declare, subscribe, cancel) and the reconnect loop are the driver's.
///
/// Only this thread touches the C state, the machine, the continuations and the consumer table, so none of it needs
/// a lock; callers reach it through the ``ConnectionMailbox``.
final class ConnectionWorker {
    private let configuration: AMQPConfiguration
    private var topology: [AMQPTopology]
    private let mailbox: ConnectionMailbox
    private var logger: Logger

    private var conn: amqp_connection_state_t?
    private var socketFD: Int32 = -1
    /// The node of ``AMQPConfiguration/endpoints`` tried first: the one that served last; at first a random one, so
    /// that the services' connections (and the queues they declare, led by the node a declaring client is connected
    /// to) spread over the cluster instead of all landing on the first node of the list.
    private var endpointIndex = 0
    private var machine: AMQPProtocolMachine
    /// The callers of publishes awaiting the broker's answer, by the machine's publish id.
    private var confirms: [AMQPProtocolMachine.PublishID: CheckedContinuation<Void, any Error>] = [:]
    /// Every consumer the owner has not cancelled, subscribed or waiting for a connection to subscribe on.
    private var consumers: [Int: ConsumerSpec] = [:]
    private var shutdown: CheckedContinuation<Void, Never>?

    private typealias Channel = AMQPProtocolMachine.Channel

    init(configuration: AMQPConfiguration, topology: [AMQPTopology], mailbox: ConnectionMailbox, logger: Logger) {
        self.configuration = configuration
        self.topology = topology
        self.mailbox = mailbox
        self.logger = logger
        machine = AMQPProtocolMachine(heartbeat: configuration.heartbeat, now: .now)
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
        for spec in consumers.values { spec.continuation.finish() }
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
        case .consume(let spec): consumers[spec.id] = spec
        case .cancel(let id, _): consumers.removeValue(forKey: id)?.continuation.finish()
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
        let generation = machine.connected(now: .now)

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
        for case .resolve(let id, let outcome) in machine.disconnected(reason: reason) { settle(id, outcome) }
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
            try perform(machine.expireConfirms(now: now))
            var frames = 0
            while frames < 4096 {
                guard let frame = try nextFrame() else { break }
                try handle(frame: frame)
                frames += 1
            }
            if frames > 0 { amqp_maybe_release_buffers(conn) }
            try perform(machine.checkSilence(now: now))
            if frames == 0 && commands.isEmpty { waitForWork() }
        }
    }

    /// Sleeps until the socket has data, a command arrives, or the next timer (heartbeat, confirm deadline) is due.
    private func waitForWork() {
        if amqp_data_in_buffer(conn) != 0 || amqp_frames_enqueued(conn) != 0 { return }
        guard mailbox.prepareSleep() else { return }
        let limit = machine.sleepLimit(now: .now)
        var fds = [
            pollfd(fd: mailbox.wakeFD, events: Int16(POLLIN), revents: 0),
            pollfd(fd: socketFD, events: Int16(POLLIN), revents: 0),
        ]
        _ = poll(&fds, 2, Int32(max(1, limit.milliseconds)))
        if fds[1].revents != 0 { machine.heardFromBroker(at: .now) }
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
        machine.heardFromBroker(at: .now)
        return frame
    }

    private func drainAndClose() throws {
        let until = ContinuousClock.now + .seconds(2)
        while machine.awaitingConfirms > 0 && ContinuousClock.now < until {
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
            switch machine.publish(messageId: message.properties.messageId, deadline: deadline) {
            case .refuse(let reason):
                c.resume(throwing: AMQPError(.blocked, "broker blocked publishing: \(reason)"))
            case .send(let id, let messageId):
                confirms[id] = c
                try publish(message, messageId: messageId)
            }
        case .ack(let channel, let generation, let tag, let multiple):
            guard machine.acceptsAcknowledgement(channel: channel, generation: generation) else { return }
            try status(amqp_basic_ack(conn, channel, tag, multiple ? 1 : 0), "basic.ack")
        case .nack(let channel, let generation, let tag, let multiple, let requeue):
            guard machine.acceptsAcknowledgement(channel: channel, generation: generation) else { return }
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
            consumers[spec.id] = spec
            try subscribe(spec.id)
        case .cancel(let id, let release):
            guard let spec = consumers.removeValue(forKey: id) else { return }
            // Cancelled without release, its unacknowledged deliveries stay its own until the connection closes.
            if release { endSubscription(of: id) }
            defer { spec.continuation.finish() }
            switch machine.cancel(consumer: id, release: release) {
            case .none:
                break
            case .closeChannel(let channel):
                amqp_channel_close(conn, channel, AMQP_REPLY_SUCCESS)
                try check(amqp_get_rpc_reply(conn), channel: channel, what: "release consumer of \(spec.queue)")
            case .basicCancel(let channel, let consumerTag):
                // basic.cancel, not channel.close: closing the channel right after acks can lose those acks (a
                // quorum queue settles them asynchronously) and requeue messages that were handled. The channel
                // stays open so that acks still in flight for this consumer reach the broker.
                let arena = CArena()
                amqp_basic_cancel(conn, channel, arena.bytes(consumerTag))
                try check(amqp_get_rpc_reply(conn), channel: channel, what: "cancel consumer of \(spec.queue)")
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

    /// Sends a publish the machine has registered under `messageId`.
    private func publish(_ message: AMQPMessage, messageId: String) throws {
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
        if p.messageId == nil {
            props.message_id = arena.bytes(messageId)
            props._flags |= UInt32(AMQP_BASIC_MESSAGE_ID_FLAG)
        }
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
        guard let spec = consumers[id] else { return }
        let channel = machine.allocateChannel()
        let consumerTag: String
        do {
            try openChannel(channel)
            amqp_basic_qos(conn, channel, 0, spec.prefetch, 0)
            try check(amqp_get_rpc_reply(conn), channel: channel, what: "set prefetch for \(spec.queue)")
            let arena = CArena()
            let ok = amqp_basic_consume(
                conn, channel, arena.bytes(spec.queue), amqp_empty_bytes, 0, 0, 0, arena.table(spec.arguments))
            try check(amqp_get_rpc_reply(conn), channel: channel, what: "consume from \(spec.queue)")
            consumerTag = ok?.pointee.consumer_tag.string ?? ""
        } catch let error as AMQPError where error.code == .channelClosed {
            consumers[id] = nil
            spec.continuation.finish(throwing: error)
            return
        }
        let subscription = machine.subscribed(consumer: id, channel: channel, consumerTag: consumerTag)
        mailbox.state.withLock { $0.subscriptions[id] = subscription }
    }

    /// The consumer's subscription is over: its unacknowledged deliveries are no longer its own.
    private func endSubscription(of id: Int) {
        _ = mailbox.state.withLock { $0.subscriptions.removeValue(forKey: id) }
    }

    // MARK: - Actions

    /// Feeds a frame to the machine and carries out what it decides.
    private func handle(frame: amqp_frame_t) throws {
        guard let frame = AMQPFrame(frame) else { return }
        try perform(machine.received(frame))
    }

    /// Carries out the machine's decisions in order; throws when one of them means the connection is lost.
    private func perform(_ actions: [AMQPProtocolMachine.Action]) throws {
        for action in actions {
            switch action {
            case .deliver(let id, let d):
                guard let spec = consumers[id] else { continue }
                spec.continuation.yield(
                    AMQPDelivery(
                        body: d.body, properties: d.properties, exchange: d.exchange, routingKey: d.routingKey,
                        redelivered: d.redelivered, deliveryTag: d.deliveryTag, channel: d.channel,
                        generation: machine.generation, consumer: id, subscription: d.subscription, mailbox: mailbox))
            case .resolve(let id, let outcome):
                settle(id, outcome)
            case .returned(let messageId, let code, let text):
                logger.debug(
                    "message returned by the broker",
                    metadata: ["message_id": "\(messageId ?? "-")", "code": "\(code)", "reason": "\(text)"])
            case .acknowledgeChannelClose(let channel, let code, let text):
                var ok = amqp_channel_close_ok_t(dummy: 0)
                amqp_send_method(conn, channel, MethodID.channelCloseOk, &ok)
                logger.warning(
                    "broker closed a channel", metadata: ["channel": "\(channel)", "code": "\(code)", "reason": "\(text)"])
            case .reopenControlChannel:
                try openChannel(Channel.control)
            case .reopenPublishChannel:
                try openPublishChannel()
            case .resubscribe(let id, let closeChannel):
                endSubscription(of: id)
                if let channel = closeChannel {
                    logger.warning(
                        "broker cancelled a consumer, subscribing again", metadata: ["queue": "\(consumers[id]?.queue ?? "?")"])
                    amqp_channel_close(conn, channel, AMQP_REPLY_SUCCESS)
                    try check(amqp_get_rpc_reply(conn), channel: channel, what: "close cancelled consumer channel")
                }
                try subscribe(id)
            case .closeConnection(let code, let text):
                var ok = amqp_connection_close_ok_t(dummy: 0)
                amqp_send_method(conn, 0, MethodID.connectionCloseOk, &ok)
                throw AMQPError(.connectionLost, "broker closed the connection: \(text)", replyCode: code)
            case .blocked(let reason):
                mailbox.state.withLock { $0.status = .blocked(reason: reason) }
                logger.warning("broker blocked publishing", metadata: ["reason": "\(reason)"])
            case .unblocked:
                mailbox.state.withLock { $0.status = .ready }
                logger.info("broker unblocked publishing")
            case .connectionLost(let reason):
                throw AMQPError(.connectionLost, reason)
            }
        }
    }

    /// Answers the caller of a publish.
    private func settle(_ id: AMQPProtocolMachine.PublishID, _ outcome: AMQPProtocolMachine.PublishOutcome) {
        guard let c = confirms.removeValue(forKey: id) else { return }
        switch outcome {
        case .confirmed: c.resume()
        case .nacked: c.resume(throwing: AMQPError(.nacked, "the broker refused the message (basic.nack)"))
        case .unroutable:
            c.resume(throwing: AMQPError(.unroutable, "no queue is bound to take the message (basic.return)"))
        case .timedOut: c.resume(throwing: AMQPError(.confirmTimeout, "no publisher confirm within the deadline"))
        case .lost(let reason):
            c.resume(throwing: AMQPError(.connectionLost, "connection to \(configuration.redactedURL) lost: \(reason)"))
        case .channelClosed(let code, let text):
            c.resume(throwing: AMQPError(.channelClosed, "publish failed: \(text)", replyCode: code))
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
            machine.heardFromBroker(at: .now)
            return
        case AMQP_RESPONSE_SERVER_EXCEPTION where reply.reply.id == MethodID.channelClose:
            let c = reply.reply.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
            let text = c.reply_text.string
            var ok = amqp_channel_close_ok_t(dummy: 0)
            amqp_send_method(conn, channel, MethodID.channelCloseOk, &ok)
            try perform(machine.rpcChannelClosed(channel, replyCode: c.reply_code, replyText: text))
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
