/// The protocol decisions of one AMQP connection, as a value: no socket, no clock, no continuation.
///
/// ``ConnectionWorker`` feeds it what happened — a frame from the broker, a command, the time, connected or
/// disconnected — and performs the ``Action``s it returns (after postgres-nio's `ConnectionStateMachine`). It owns:
///
/// - the assembly of deliveries and returned messages from method, header and body frames, per channel;
/// - publisher confirms (a ``ConfirmTracker`` keyed by publish ids it hands out; the driver keeps the callers'
///   continuations under those ids), their deadlines, and their loss with the publish channel or the connection;
/// - what the broker's `basic.cancel`, `channel.close`, `connection.close` and `connection.blocked/unblocked` mean;
/// - which consumer holds which channel, the numbering of subscriptions, and channel allocation;
/// - the dead-peer check: a broker silent for two heartbeats is gone.
struct AMQPProtocolMachine {
    /// Channel numbers with a fixed role; consumers get one channel each from ``firstConsumer`` on.
    enum Channel {
        static let control: UInt16 = 1
        static let publish: UInt16 = 2
        static let firstConsumer: UInt16 = 3
    }

    /// Names one publish for as long as its caller waits; never reused within a machine.
    typealias PublishID = UInt64

    /// How one publish ended.
    enum PublishOutcome: Equatable, Sendable {
        case confirmed
        /// `basic.nack`.
        case nacked
        /// Returned as mandatory and unroutable, then acked.
        case unroutable
        /// No answer before its deadline.
        case timedOut
        /// The connection went away first (`reason` as given to ``disconnected(reason:)``).
        case lost(reason: String)
        /// The broker closed the publish channel first.
        case channelClosed(replyCode: UInt16, replyText: String)
    }

    /// A message for a consumer, complete with its body.
    struct Delivery: Equatable, Sendable {
        var body: [UInt8]
        var properties: AMQPProperties
        var exchange: String
        var routingKey: String
        var redelivered: Bool
        var deliveryTag: UInt64
        var channel: UInt16
        /// The subscription it came from (``subscribed(consumer:channel:consumerTag:)``).
        var subscription: UInt64
    }

    /// What the driver must do, in order.
    enum Action: Equatable, Sendable {
        /// Hand the delivery to the consumer's stream.
        case deliver(consumer: Int, Delivery)
        /// Answer the caller of the publish.
        case resolve(publish: PublishID, PublishOutcome)
        /// The broker returned a message (its publish is answered when the ack follows); for the log.
        case returned(messageId: String?, replyCode: UInt16, replyText: String)
        /// The broker closed the channel: answer `channel.close-ok`.
        case acknowledgeChannelClose(channel: UInt16, replyCode: UInt16, replyText: String)
        /// Open the control channel again.
        case reopenControlChannel
        /// Open the publish channel again, in confirm mode.
        case reopenPublishChannel
        /// The consumer's subscription has ended (its unacknowledged deliveries are no longer its own): close
        /// `closeChannel` if given (the broker cancelled the consumer but left the channel open), then subscribe the
        /// consumer again on a new channel.
        case resubscribe(consumer: Int, closeChannel: UInt16?)
        /// The broker closes the connection: answer `connection.close-ok`, then treat the connection as lost.
        case closeConnection(replyCode: UInt16, replyText: String)
        /// The broker stopped taking publishes; publishes are refused until ``unblocked``.
        case blocked(reason: String)
        /// The broker takes publishes again.
        case unblocked
        /// The connection is dead: drop it and reconnect.
        case connectionLost(reason: String)
    }

    /// What to do with a publish command.
    enum PublishDecision: Equatable, Sendable {
        /// The broker blocked publishing: answer the caller with an error at once.
        case refuse(blockedReason: String)
        /// Send it with this message id (the caller's, or one made up so that a return can be matched to it).
        case send(PublishID, messageId: String)
    }

    /// What cancelling a consumer takes on the wire.
    enum CancelStep: Equatable, Sendable {
        /// It holds no channel: nothing.
        case none
        /// Close its channel, releasing its unacknowledged deliveries.
        case closeChannel(UInt16)
        /// `basic.cancel` only: the channel stays open so that acks still in flight for it reach the broker.
        case basicCancel(channel: UInt16, consumerTag: String)
    }

    private struct Subscription {
        let channel: UInt16
        let consumerTag: String
        let number: UInt64
    }

    private struct PartialMessage {
        enum Kind {
            case delivery(tag: UInt64, redelivered: Bool, exchange: String, routingKey: String)
            case returned(replyCode: UInt16, replyText: String)
        }
        let kind: Kind
        var properties = AMQPProperties(persistent: false)
        /// The announced body size; -1 until the header came.
        var expected: Int = -1
        var body: [UInt8] = []
    }

    /// The interval of the broker's heartbeats; two of them without a frame mean the broker is gone.
    let heartbeat: Duration
    /// Counts the connections established; a delivery is acknowledged only on the connection it came on.
    private(set) var generation: UInt64 = 0
    /// Why the broker blocked publishing, while it does.
    private(set) var blockedReason: String?

    private var tracker = ConfirmTracker<PublishID>()
    private var lastPublish: PublishID = 0
    private var nextExpiryCheck: ContinuousClock.Instant
    private var lastReceived: ContinuousClock.Instant
    private var partial: [UInt16: PartialMessage] = [:]
    private var subscriptions: [Int: Subscription] = [:]
    /// The channel of every consumer subscribed on this connection, including one cancelled without release (its
    /// acks must still reach the broker) until the channel closes.
    private var consumerByChannel: [UInt16: Int] = [:]
    private var nextChannel = Channel.firstConsumer
    /// Numbers every subscription of every consumer, so that a delivery can tell whether its subscription still stands.
    private var lastSubscription: UInt64 = 0

    init(heartbeat: Duration, now: ContinuousClock.Instant) {
        self.heartbeat = heartbeat
        lastReceived = now
        nextExpiryCheck = now
    }

    /// Publishes whose caller still waits for the broker's answer.
    var awaitingConfirms: Int { tracker.waiting }

    // MARK: - Connection

    /// A new connection is up (logged in; channels not open yet). Returns its generation.
    mutating func connected(now: ContinuousClock.Instant) -> UInt64 {
        generation += 1
        tracker = ConfirmTracker()
        partial.removeAll()
        blockedReason = nil
        lastReceived = now
        return generation
    }

    /// The connection is gone: every publish still awaited is lost (only ``Action/resolve(publish:_:)`` actions),
    /// and every subscription with it.
    mutating func disconnected(reason: String) -> [Action] {
        let lost = tracker.failAll().map { Action.resolve(publish: $0.0, .lost(reason: reason)) }
        partial.removeAll()
        subscriptions.removeAll()
        consumerByChannel.removeAll()
        nextChannel = Channel.firstConsumer
        return lost
    }

    /// An RPC of the driver failed because the broker closed `channel` (already answered with `close-ok`).
    mutating func rpcChannelClosed(_ channel: UInt16, replyCode: UInt16, replyText: String) -> [Action] {
        switch channel {
        case Channel.publish: return publishChannelClosed(replyCode: replyCode, replyText: replyText)
        case Channel.control: return [.reopenControlChannel]
        default: return []
        }
    }

    // MARK: - Time

    /// Something came from the broker: proof of life for the dead-peer check.
    mutating func heardFromBroker(at now: ContinuousClock.Instant) {
        lastReceived = now
    }

    /// Reports publishes whose deadline has passed (checked at most every 20 ms, or at an earlier deadline).
    mutating func expireConfirms(now: ContinuousClock.Instant) -> [Action] {
        guard now >= nextExpiryCheck else { return [] }
        nextExpiryCheck = now + .milliseconds(20)
        return tracker.expire(now: now).map { .resolve(publish: $0.0, $0.1.publishOutcome) }
    }

    /// The connection is lost when the broker has been silent for more than two heartbeats.
    func checkSilence(now: ContinuousClock.Instant) -> [Action] {
        guard now - lastReceived > heartbeat * 2 else { return [] }
        return [.connectionLost(reason: "broker silent for more than two heartbeats (\(heartbeat * 2))")]
    }

    /// How long the driver may wait for the socket: at most a second (so that a silent broker is noticed within two
    /// heartbeats, not two and a half), and not past the next confirm deadline.
    func sleepLimit(now: ContinuousClock.Instant) -> Duration {
        var limit = min(heartbeat / 2, .seconds(1))
        if let deadline = tracker.earliestDeadline {
            limit = min(limit, max(.zero, deadline - now) + .milliseconds(1))
        }
        return limit
    }

    // MARK: - Commands

    /// A caller publishes a message with the given id (nil: none of its own) and confirm deadline.
    mutating func publish(messageId: String?, deadline: ContinuousClock.Instant?) -> PublishDecision {
        if let blockedReason { return .refuse(blockedReason: blockedReason) }
        // A return carries no delivery tag, only the message's properties: give every message an id so that a
        // return can be matched to its publish (Stockwire's own messages always carry one).
        let id = messageId ?? "stockwire-\(generation)-\(tracker.nextTag)"
        lastPublish += 1
        _ = tracker.register(lastPublish, messageId: id, deadline: deadline)
        if let deadline, deadline < nextExpiryCheck { nextExpiryCheck = deadline }
        return .send(lastPublish, messageId: id)
    }

    /// Whether an ack or nack of a delivery may go to the broker: only on the connection it came on, and only while
    /// its channel is open (an ack on a closed channel would make the broker close the connection).
    func acceptsAcknowledgement(channel: UInt16, generation: UInt64) -> Bool {
        generation == self.generation && consumerByChannel[channel] != nil
    }

    /// The channel for the next subscription: the next one not in use, from ``Channel/firstConsumer`` on.
    mutating func allocateChannel() -> UInt16 {
        while consumerByChannel[nextChannel] != nil || nextChannel < Channel.firstConsumer {
            nextChannel = nextChannel == UInt16.max ? Channel.firstConsumer : nextChannel + 1
        }
        defer { nextChannel = nextChannel == UInt16.max ? Channel.firstConsumer : nextChannel + 1 }
        return nextChannel
    }

    /// The broker accepted `basic.consume` on `channel`. Returns the number of this subscription.
    mutating func subscribed(consumer: Int, channel: UInt16, consumerTag: String) -> UInt64 {
        lastSubscription += 1
        subscriptions[consumer] = Subscription(channel: channel, consumerTag: consumerTag, number: lastSubscription)
        consumerByChannel[channel] = consumer
        return lastSubscription
    }

    /// The owner cancels a consumer; with `release` its unacknowledged deliveries go back to the queue now, without
    /// it they stay its own until the connection closes. Deliveries still arriving for it are dropped.
    mutating func cancel(consumer: Int, release: Bool) -> CancelStep {
        guard let subscription = subscriptions.removeValue(forKey: consumer) else { return .none }
        if release {
            consumerByChannel[subscription.channel] = nil
            return .closeChannel(subscription.channel)
        }
        return .basicCancel(channel: subscription.channel, consumerTag: subscription.consumerTag)
    }

    // MARK: - Frames

    /// A frame came from the broker.
    mutating func received(_ frame: AMQPFrame) -> [Action] {
        switch frame {
        case .method(let channel, let method):
            return received(method, on: channel)
        case .header(let channel, let bodySize, let properties):
            guard var message = partial[channel] else { return [] }
            message.properties = properties
            message.expected = Int(bodySize)
            partial[channel] = message
            return message.expected == 0 ? complete(channel: channel) : []
        case .body(let channel, let fragment):
            guard partial[channel] != nil else { return [] }
            if partial[channel]!.body.isEmpty {
                // Most bodies fit one frame: the fragment already copied out of rabbitmq-c is the body.
                partial[channel]!.body = fragment
            } else {
                partial[channel]!.body.reserveCapacity(partial[channel]!.expected)
                partial[channel]!.body.append(contentsOf: fragment)
            }
            guard partial[channel]!.body.count >= partial[channel]!.expected else { return [] }
            return complete(channel: channel)
        }
    }

    private mutating func received(_ method: AMQPFrame.Method, on channel: UInt16) -> [Action] {
        switch method {
        case .basicDeliver(let tag, let redelivered, let exchange, let routingKey):
            partial[channel] = PartialMessage(
                kind: .delivery(tag: tag, redelivered: redelivered, exchange: exchange, routingKey: routingKey))
            return []
        case .basicReturn(let code, let text):
            partial[channel] = PartialMessage(kind: .returned(replyCode: code, replyText: text))
            return []
        case .basicAck(let tag, let multiple):
            return tracker.ack(tag: tag, multiple: multiple).map { .resolve(publish: $0.0, $0.1.publishOutcome) }
        case .basicNack(let tag, let multiple):
            return tracker.nack(tag: tag, multiple: multiple).map { .resolve(publish: $0.0, $0.1.publishOutcome) }
        case .basicCancel:
            // The broker cancelled a consumer (queue deleted, or a quorum leader moved): subscribe again.
            guard let consumer = consumerByChannel.removeValue(forKey: channel) else { return [] }
            subscriptions[consumer] = nil
            return [.resubscribe(consumer: consumer, closeChannel: channel)]
        case .channelClose(let code, let text):
            partial[channel] = nil
            var actions: [Action] = [.acknowledgeChannelClose(channel: channel, replyCode: code, replyText: text)]
            if channel == Channel.publish {
                actions += publishChannelClosed(replyCode: code, replyText: text)
            } else if channel == Channel.control {
                actions.append(.reopenControlChannel)
            } else if let consumer = consumerByChannel.removeValue(forKey: channel) {
                subscriptions[consumer] = nil
                actions.append(.resubscribe(consumer: consumer, closeChannel: nil))
            }
            return actions
        case .connectionClose(let code, let text):
            return [.closeConnection(replyCode: code, replyText: text)]
        case .connectionBlocked(let reason):
            blockedReason = reason
            return [.blocked(reason: reason)]
        case .connectionUnblocked:
            blockedReason = nil
            return [.unblocked]
        case .other:
            return []
        }
    }

    private mutating func complete(channel: UInt16) -> [Action] {
        guard let message = partial.removeValue(forKey: channel) else { return [] }
        switch message.kind {
        case .delivery(let tag, let redelivered, let exchange, let routingKey):
            guard let consumer = consumerByChannel[channel], let subscription = subscriptions[consumer] else { return [] }
            let delivery = Delivery(
                body: message.body, properties: message.properties, exchange: exchange, routingKey: routingKey,
                redelivered: redelivered, deliveryTag: tag, channel: channel, subscription: subscription.number)
            return [.deliver(consumer: consumer, delivery)]
        case .returned(let code, let text):
            tracker.returned(messageId: message.properties.messageId)
            return [.returned(messageId: message.properties.messageId, replyCode: code, replyText: text)]
        }
    }

    /// Every publish awaited on the publish channel fails with it; the reopened channel numbers tags from 1 again.
    private mutating func publishChannelClosed(replyCode: UInt16, replyText: String) -> [Action] {
        var actions = tracker.failAll().map {
            Action.resolve(publish: $0.0, .channelClosed(replyCode: replyCode, replyText: replyText))
        }
        actions.append(.reopenPublishChannel)
        return actions
    }
}

extension ConfirmTracker.Outcome {
    fileprivate var publishOutcome: AMQPProtocolMachine.PublishOutcome {
        switch self {
        case .confirmed: .confirmed
        case .nacked: .nacked
        case .unroutable: .unroutable
        case .timedOut: .timedOut
        case .lost: .lost(reason: "connection lost before the confirm")
        }
    }
}
