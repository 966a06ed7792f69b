import Testing

@testable import AMQP

/// Drives the protocol machine through frame sequences as the broker sends them, without a socket.
@Suite struct AMQPProtocolMachineTests {
    typealias Machine = AMQPProtocolMachine
    typealias Action = AMQPProtocolMachine.Action

    let start = ContinuousClock.now
    let consumer = 7
    let publish = Machine.Channel.publish
    /// The channel of ``consumer``: the first one after the fixed ones.
    let channel = Machine.Channel.firstConsumer

    /// A machine on a fresh connection with ``consumer`` subscribed on ``channel``.
    func subscribed() -> Machine {
        var m = Machine(heartbeat: .seconds(10), now: start)
        _ = m.connected(now: start)
        #expect(m.allocateChannel() == channel)
        _ = m.subscribed(consumer: consumer, channel: channel, consumerTag: "ctag-1")
        return m
    }

    func deliver(
        _ m: inout Machine, channel: UInt16, tag: UInt64, chunks: [[UInt8]], properties: AMQPProperties = AMQPProperties()
    ) -> [[Action]] {
        var steps = [
            m.received(
                .method(
                    channel: channel,
                    .basicDeliver(deliveryTag: tag, redelivered: false, exchange: "events", routingKey: "k")))
        ]
        let size = chunks.reduce(0) { $0 + $1.count }
        steps.append(m.received(.header(channel: channel, bodySize: UInt64(size), properties: properties)))
        for chunk in chunks { steps.append(m.received(.body(channel: channel, chunk))) }
        return steps
    }

    func delivery(_ body: [UInt8], channel: UInt16, tag: UInt64, subscription: UInt64 = 1) -> Action {
        .deliver(
            consumer: consumer,
            Machine.Delivery(
                body: body, properties: AMQPProperties(), exchange: "events", routingKey: "k", redelivered: false,
                deliveryTag: tag, channel: channel, subscription: subscription))
    }

    /// The frames of `basic.return` for the message with this id.
    func returnFrames(messageId: String) -> [AMQPFrame] {
        [
            .method(channel: publish, .basicReturn(replyCode: 312, replyText: "NO_ROUTE")),
            .header(channel: publish, bodySize: 2, properties: AMQPProperties(messageId: messageId)),
            .body(channel: publish, [1, 2]),
        ]
    }

    func publishIds(_ m: inout Machine, count: Int, deadline: ContinuousClock.Instant? = nil) -> [Machine.PublishID] {
        (1...count).map { i in
            guard case .send(let id, _) = m.publish(messageId: "m\(i)", deadline: deadline) else {
                Issue.record("publish \(i) refused")
                return 0
            }
            return id
        }
    }

    // MARK: - Deliveries

    @Test func deliveryInOneBodyFrameGoesToItsConsumerOnTheLastFrame() {
        var m = subscribed()
        let steps = deliver(&m, channel: channel, tag: 1, chunks: [[1, 2, 3]])
        #expect(steps == [[], [], [delivery([1, 2, 3], channel: channel, tag: 1)]])
    }

    @Test func deliverySplitAcrossBodyFramesIsAssembledInOrder() {
        var m = subscribed()
        let steps = deliver(&m, channel: channel, tag: 4, chunks: [[1, 2], [3], [4, 5, 6]])
        #expect(steps.dropLast().allSatisfy { $0.isEmpty })
        #expect(steps.last == [delivery([1, 2, 3, 4, 5, 6], channel: channel, tag: 4)])
    }

    /// Every way of cutting a six-byte body into body frames (2⁵ of them): delivered once, whole, on the last frame.
    @Test func everySplitOfABodyIntoFramesDeliversTheWholeBodyOnce() {
        let body: [UInt8] = [10, 11, 12, 13, 14, 15]
        for cuts in 0..<(1 << (body.count - 1)) {
            var chunks: [[UInt8]] = [[body[0]]]
            for i in 1..<body.count {
                if cuts & (1 << (i - 1)) != 0 { chunks.append([]) }
                chunks[chunks.count - 1].append(body[i])
            }
            var m = subscribed()
            let steps = deliver(&m, channel: channel, tag: UInt64(cuts + 1), chunks: chunks)
            #expect(steps.dropLast().allSatisfy { $0.isEmpty }, "chunks \(chunks)")
            #expect(steps.last == [delivery(body, channel: channel, tag: UInt64(cuts + 1))], "chunks \(chunks)")
        }
    }

    @Test func confirmsArrivingBetweenTheFramesOfADeliveryDoNotDisturbIt() {
        var m = subscribed()
        let ids = publishIds(&m, count: 2)
        var out: [Action] = []
        out += m.received(
            .method(channel: channel, .basicDeliver(deliveryTag: 1, redelivered: true, exchange: "events", routingKey: "k")))
        out += m.received(.method(channel: publish, .basicAck(deliveryTag: 1, multiple: false)))
        out += m.received(.header(channel: channel, bodySize: 2, properties: AMQPProperties()))
        out += m.received(.method(channel: publish, .basicNack(deliveryTag: 2, multiple: false)))
        out += m.received(.body(channel: channel, [1, 2]))
        guard out.count == 3, case .deliver(consumer, let d) = out[2] else {
            Issue.record("unexpected \(out)")
            return
        }
        #expect(Array(out[0...1]) == [.resolve(publish: ids[0], .confirmed), .resolve(publish: ids[1], .nacked)])
        #expect(d.body == [1, 2] && d.redelivered)
    }

    @Test func zeroLengthBodyIsDeliveredOnTheHeader() {
        var m = subscribed()
        let steps = deliver(&m, channel: channel, tag: 2, chunks: [])
        #expect(steps == [[], [delivery([], channel: channel, tag: 2)]])
    }

    @Test func deliveryKeepsTheHeadersProperties() {
        var m = subscribed()
        let properties = AMQPProperties(contentType: "application/json", messageId: "e-1", headers: ["v": 2])
        let steps = deliver(&m, channel: channel, tag: 1, chunks: [[9]], properties: properties)
        guard case .deliver(_, let d)? = steps.last?.first else {
            Issue.record("no delivery")
            return
        }
        #expect(d.properties == properties)
    }

    @Test func deliveriesOnTwoChannelsInterleavedAreAssembledApart() {
        var m = subscribed()
        let first = channel
        let second = m.allocateChannel()
        #expect(second != first)
        _ = m.subscribed(consumer: 8, channel: second, consumerTag: "ctag-2")
        var out: [Action] = []
        for channel in [first, second] {
            out += m.received(
                .method(
                    channel: channel, .basicDeliver(deliveryTag: 1, redelivered: false, exchange: "events", routingKey: "k")))
            out += m.received(.header(channel: channel, bodySize: 2, properties: AMQPProperties()))
        }
        out += m.received(.body(channel: second, [2]))
        out += m.received(.body(channel: first, [1]))
        out += m.received(.body(channel: first, [1]))
        out += m.received(.body(channel: second, [2]))
        guard out.count == 2, case .deliver(7, let a) = out[0], case .deliver(8, let b) = out[1] else {
            Issue.record("unexpected \(out)")
            return
        }
        #expect(a.body == [1, 1] && a.channel == first)
        #expect(b.body == [2, 2] && b.channel == second && b.subscription == 2)
    }

    @Test func contentForAChannelWithoutAMethodIsIgnored() {
        var m = subscribed()
        #expect(m.received(.header(channel: channel, bodySize: 1, properties: AMQPProperties())).isEmpty)
        #expect(m.received(.body(channel: channel, [1])).isEmpty)
    }

    @Test func deliveryOnAChannelWithoutConsumerIsDropped() {
        var m = subscribed()
        let steps = deliver(&m, channel: 40, tag: 1, chunks: [[1]])
        #expect(steps.allSatisfy { $0.isEmpty })
    }

    // MARK: - Publisher confirms

    @Test func aPublishWithoutMessageIdGetsOneNamingConnectionAndTag() {
        var m = subscribed()
        #expect(m.publish(messageId: nil, deadline: nil) == .send(1, messageId: "stockwire-1-1"))
        #expect(m.publish(messageId: "own", deadline: nil) == .send(2, messageId: "own"))
        #expect(m.publish(messageId: nil, deadline: nil) == .send(3, messageId: "stockwire-1-3"))
        #expect(m.awaitingConfirms == 3)
    }

    @Test func ackConfirms() {
        var m = subscribed()
        let ids = publishIds(&m, count: 2)
        #expect(
            m.received(.method(channel: publish, .basicAck(deliveryTag: 2, multiple: false))) == [
                .resolve(publish: ids[1], .confirmed)
            ])
        #expect(m.awaitingConfirms == 1)
    }

    @Test func returnFollowedByAckIsUnroutable() {
        var m = subscribed()
        let ids = publishIds(&m, count: 1)
        var out: [Action] = []
        for frame in returnFrames(messageId: "m1") { out += m.received(frame) }
        #expect(out == [.returned(messageId: "m1", replyCode: 312, replyText: "NO_ROUTE")])
        #expect(
            m.received(.method(channel: publish, .basicAck(deliveryTag: 1, multiple: false))) == [
                .resolve(publish: ids[0], .unroutable)
            ])
    }

    @Test func nackIsRefusal() {
        var m = subscribed()
        let ids = publishIds(&m, count: 2)
        let out = m.received(.method(channel: publish, .basicNack(deliveryTag: 2, multiple: true)))
        #expect(out == [.resolve(publish: ids[0], .nacked), .resolve(publish: ids[1], .nacked)])
    }

    @Test func multipleAckConfirmsEverythingUpToTheTagOnce() {
        var m = subscribed()
        let ids = publishIds(&m, count: 5)
        #expect(
            m.received(.method(channel: publish, .basicAck(deliveryTag: 2, multiple: false))) == [
                .resolve(publish: ids[1], .confirmed)
            ])
        let out = m.received(.method(channel: publish, .basicAck(deliveryTag: 4, multiple: true)))
        #expect(out == [ids[0], ids[2], ids[3]].map { .resolve(publish: $0, .confirmed) })
        #expect(m.received(.method(channel: publish, .basicAck(deliveryTag: 4, multiple: true))).isEmpty)
        #expect(m.awaitingConfirms == 1)
    }

    @Test func ackForAnUnknownTagIsIgnored() {
        var m = subscribed()
        _ = publishIds(&m, count: 1)
        #expect(m.received(.method(channel: publish, .basicAck(deliveryTag: 99, multiple: false))).isEmpty)
        #expect(m.received(.method(channel: publish, .basicNack(deliveryTag: 0, multiple: true))).isEmpty)
        #expect(m.awaitingConfirms == 1)
    }

    @Test func deadlineExpiryTimesOutOnceAndSwallowsTheLateAck() {
        var m = subscribed()
        let ids = publishIds(&m, count: 1, deadline: start + .milliseconds(5))
        #expect(m.sleepLimit(now: start + .milliseconds(1)) == .milliseconds(5))
        #expect(m.expireConfirms(now: start + .milliseconds(6)) == [.resolve(publish: ids[0], .timedOut)])
        #expect(m.expireConfirms(now: start + .seconds(1)).isEmpty)
        #expect(m.received(.method(channel: publish, .basicAck(deliveryTag: 1, multiple: false))).isEmpty)
        #expect(m.awaitingConfirms == 0)
    }

    @Test func anEarlierDeadlineIsCheckedBeforeTheNextRegularCheck() {
        var m = subscribed()
        #expect(m.expireConfirms(now: start).isEmpty)  // next regular check at start + 20 ms
        let ids = publishIds(&m, count: 1, deadline: start + .milliseconds(2))
        #expect(m.expireConfirms(now: start + .milliseconds(3)) == [.resolve(publish: ids[0], .timedOut)])
    }

    @Test func disconnectLosesEveryPendingConfirmAndTagsStartAgain() {
        var m = subscribed()
        let ids = publishIds(&m, count: 3)
        _ = m.received(.method(channel: publish, .basicAck(deliveryTag: 2, multiple: false)))
        let out = m.disconnected(reason: "socket closed")
        #expect(out == [ids[0], ids[2]].map { .resolve(publish: $0, .lost(reason: "socket closed")) })
        #expect(m.awaitingConfirms == 0)
        #expect(m.connected(now: start) == 2)
        #expect(m.publish(messageId: nil, deadline: nil) == .send(4, messageId: "stockwire-2-1"))
    }

    /// Every order in which the broker may answer three publishes, some of them returned: a return comes before the
    /// ack that covers its message, acks come one by one or `multiple`. Each publish is answered exactly once, as
    /// unroutable when it was returned and as confirmed otherwise.
    @Test func everyInterleavingOfAcksAndReturnsAnswersEachPublishOnceAndRightly() {
        enum Event: Equatable {
            case ack(UInt64)
            case returned(UInt64)
        }
        func permutations(_ events: [Event]) -> [[Event]] {
            guard events.count > 1 else { return [events] }
            return events.indices.flatMap { i in
                var rest = events
                let first = rest.remove(at: i)
                return permutations(rest).map { [first] + $0 }
            }
        }
        var runs = 0
        for mask in 0..<8 {
            let returned = Set((1...3).filter { mask & (1 << ($0 - 1)) != 0 }.map { UInt64($0) })
            let events = (1...3).map { Event.ack(UInt64($0)) } + returned.sorted().map { Event.returned($0) }
            for multiple in [false, true] {
                for order in permutations(events) {
                    // A return precedes the ack that covers its message.
                    let valid = order.enumerated().allSatisfy { i, event in
                        guard case .returned(let tag) = event else { return true }
                        return !order[..<i].contains { e in
                            guard case .ack(let acked) = e else { return false }
                            return multiple ? acked >= tag : acked == tag
                        }
                    }
                    guard valid else { continue }
                    runs += 1
                    var m = subscribed()
                    let ids = publishIds(&m, count: 3)
                    var outcomes: [Machine.PublishID: [Machine.PublishOutcome]] = [:]
                    for event in order {
                        let frames: [AMQPFrame]
                        switch event {
                        case .ack(let tag):
                            frames = [.method(channel: publish, .basicAck(deliveryTag: tag, multiple: multiple))]
                        case .returned(let tag): frames = returnFrames(messageId: "m\(tag)")
                        }
                        for frame in frames {
                            for case .resolve(let id, let outcome) in m.received(frame) {
                                outcomes[id, default: []].append(outcome)
                            }
                        }
                    }
                    for (i, id) in ids.enumerated() {
                        let expected: Machine.PublishOutcome = returned.contains(UInt64(i + 1)) ? .unroutable : .confirmed
                        #expect(outcomes[id] == [expected], "order \(order), multiple \(multiple)")
                    }
                    #expect(m.awaitingConfirms == 0)
                }
            }
        }
        #expect(runs > 100)
    }

    // MARK: - The broker closing and cancelling

    @Test func channelCloseMidDeliveryDropsTheMessageAndResubscribesTheConsumer() {
        var m = subscribed()
        _ = m.received(
            .method(channel: channel, .basicDeliver(deliveryTag: 1, redelivered: false, exchange: "events", routingKey: "k")))
        _ = m.received(.header(channel: channel, bodySize: 4, properties: AMQPProperties()))
        _ = m.received(.body(channel: channel, [1, 2]))
        let out = m.received(.method(channel: channel, .channelClose(replyCode: 406, replyText: "PRECONDITION_FAILED")))
        #expect(
            out == [
                .acknowledgeChannelClose(channel: channel, replyCode: 406, replyText: "PRECONDITION_FAILED"),
                .resubscribe(consumer: consumer, closeChannel: nil),
            ])
        // The rest of the old message, and acks for the closed channel, go nowhere.
        #expect(m.received(.body(channel: channel, [3, 4])).isEmpty)
        #expect(!m.acceptsAcknowledgement(channel: channel, generation: 1))
        // Subscribed again, its deliveries carry the new subscription.
        let again = m.allocateChannel()
        #expect(m.subscribed(consumer: consumer, channel: again, consumerTag: "ctag-3") == 2)
        #expect(
            deliver(&m, channel: again, tag: 1, chunks: [[5]]).last == [delivery([5], channel: again, tag: 1, subscription: 2)])
    }

    @Test func publishChannelCloseFailsAwaitedPublishesAndReopensIt() {
        var m = subscribed()
        let ids = publishIds(&m, count: 2)
        _ = m.received(.method(channel: publish, .basicReturn(replyCode: 312, replyText: "NO_ROUTE")))
        let out = m.received(.method(channel: publish, .channelClose(replyCode: 404, replyText: "NOT_FOUND - no exchange")))
        let closed = Machine.PublishOutcome.channelClosed(replyCode: 404, replyText: "NOT_FOUND - no exchange")
        #expect(
            out == [.acknowledgeChannelClose(channel: publish, replyCode: 404, replyText: "NOT_FOUND - no exchange")]
                + ids.map { .resolve(publish: $0, closed) } + [.reopenPublishChannel])
        // The reopened channel numbers its tags from 1 again; the half-read return is gone.
        #expect(m.received(.header(channel: publish, bodySize: 0, properties: AMQPProperties(messageId: "x"))).isEmpty)
        let next = publishIds(&m, count: 1)
        #expect(
            m.received(.method(channel: publish, .basicAck(deliveryTag: 1, multiple: false))) == [
                .resolve(publish: next[0], .confirmed)
            ])
    }

    @Test func controlChannelCloseReopensIt() {
        var m = subscribed()
        let control = Machine.Channel.control
        let out = m.received(.method(channel: control, .channelClose(replyCode: 404, replyText: "NOT_FOUND")))
        #expect(
            out == [.acknowledgeChannelClose(channel: control, replyCode: 404, replyText: "NOT_FOUND"), .reopenControlChannel])
    }

    @Test func anRPCRefusedWithAChannelCloseReopensOnlyTheFixedChannels() {
        var m = subscribed()
        let ids = publishIds(&m, count: 1)
        #expect(
            m.rpcChannelClosed(publish, replyCode: 404, replyText: "gone")
                == [.resolve(publish: ids[0], .channelClosed(replyCode: 404, replyText: "gone")), .reopenPublishChannel])
        #expect(m.rpcChannelClosed(Machine.Channel.control, replyCode: 406, replyText: "x") == [.reopenControlChannel])
        #expect(m.rpcChannelClosed(channel, replyCode: 406, replyText: "x").isEmpty)
    }

    @Test func brokerCancelEndsTheSubscriptionAndSubscribesAgain() {
        var m = subscribed()
        #expect(m.received(.method(channel: channel, .basicCancel)) == [.resubscribe(consumer: consumer, closeChannel: channel)])
        #expect(deliver(&m, channel: channel, tag: 9, chunks: [[1]]).allSatisfy { $0.isEmpty })
        // A cancel for a channel without consumer (already cancelled) is nothing.
        #expect(m.received(.method(channel: channel, .basicCancel)).isEmpty)
    }

    @Test func connectionCloseFromTheBrokerClosesTheConnection() {
        var m = subscribed()
        let out = m.received(.method(channel: 0, .connectionClose(replyCode: 320, replyText: "CONNECTION_FORCED")))
        #expect(out == [.closeConnection(replyCode: 320, replyText: "CONNECTION_FORCED")])
    }

    @Test func unknownMethodsAreIgnored() {
        var m = subscribed()
        #expect(m.received(.method(channel: channel, .other(id: 0x003C_001F))).isEmpty)
    }

    // MARK: - Blocking

    @Test func blockedRefusesPublishesUntilUnblocked() {
        var m = subscribed()
        #expect(
            m.received(.method(channel: 0, .connectionBlocked(reason: "low on memory"))) == [.blocked(reason: "low on memory")])
        #expect(m.publish(messageId: "a", deadline: nil) == .refuse(blockedReason: "low on memory"))
        #expect(m.awaitingConfirms == 0)
        #expect(m.received(.method(channel: 0, .connectionUnblocked)) == [.unblocked])
        #expect(m.publish(messageId: "a", deadline: nil) == .send(1, messageId: "a"))
    }

    @Test func aNewConnectionIsNotBlocked() {
        var m = subscribed()
        _ = m.received(.method(channel: 0, .connectionBlocked(reason: "disk")))
        _ = m.disconnected(reason: "gone")
        _ = m.connected(now: start)
        #expect(m.blockedReason == nil)
    }

    // MARK: - Heartbeats

    @Test func silenceForTwoHeartbeatsIsConnectionLost() {
        var m = subscribed()
        #expect(m.checkSilence(now: start + .seconds(20)).isEmpty)
        #expect(
            m.checkSilence(now: start + .seconds(21)) == [
                .connectionLost(reason: "broker silent for more than two heartbeats (20.0 seconds)")
            ])
        m.heardFromBroker(at: start + .seconds(15))
        #expect(m.checkSilence(now: start + .seconds(21)).isEmpty)
    }

    @Test func sleepIsBoundedByASecondAndHalfAHeartbeat() {
        var m = Machine(heartbeat: .seconds(1), now: start)
        _ = m.connected(now: start)
        #expect(m.sleepLimit(now: start) == .milliseconds(500))
        m = Machine(heartbeat: .seconds(60), now: start)
        #expect(m.sleepLimit(now: start) == .seconds(1))
    }

    // MARK: - Consumers and channels

    @Test func cancelWithoutReleaseDropsDeliveriesButKeepsAcksGoing() {
        var m = subscribed()
        #expect(m.cancel(consumer: consumer, release: false) == .basicCancel(channel: channel, consumerTag: "ctag-1"))
        #expect(deliver(&m, channel: channel, tag: 3, chunks: [[1]]).allSatisfy { $0.isEmpty })
        #expect(m.acceptsAcknowledgement(channel: channel, generation: 1))
        #expect(m.cancel(consumer: consumer, release: false) == .none)
    }

    @Test func cancelWithReleaseClosesTheChannelAndRefusesItsAcks() {
        var m = subscribed()
        #expect(m.cancel(consumer: consumer, release: true) == .closeChannel(channel))
        #expect(!m.acceptsAcknowledgement(channel: channel, generation: 1))
    }

    @Test func acksOfAnEarlierConnectionAreRefused() {
        var m = subscribed()
        _ = m.disconnected(reason: "gone")
        _ = m.connected(now: start)
        _ = m.subscribed(consumer: consumer, channel: m.allocateChannel(), consumerTag: "ctag-2")
        #expect(!m.acceptsAcknowledgement(channel: channel, generation: 1))
        #expect(m.acceptsAcknowledgement(channel: channel, generation: 2))
    }

    @Test func channelsAreAllocatedPastTheFixedOnesAndSkipThoseInUse() {
        var m = Machine(heartbeat: .seconds(10), now: start)
        _ = m.connected(now: start)
        #expect(m.allocateChannel() == 3)
        _ = m.subscribed(consumer: 1, channel: 3, consumerTag: "a")
        // Channel numbers run up to the top and wrap around, skipping 3 which is still in use.
        var last: UInt16 = 3
        while last != UInt16.max { last = m.allocateChannel() }
        #expect(m.allocateChannel() == 4)
        _ = m.disconnected(reason: "gone")
        #expect(m.allocateChannel() == 3)
    }
}
