import AMQP
import Contracts
import Foundation
import StockwireTestSupport
import Testing

@testable import ExporterCore
@testable import exporter

/// Resync: availability flagged `x-stockwire-resync` is written again even at a version already written, after
/// reading the shop; never over a newer one; and `exporter resync` asks the calculator through its request queue.
@Suite(.timeLimit(.minutes(2))) struct ResyncTests {
    @Test func aResyncMessageOfTheWrittenVersionIsQueuedButAnOlderOneIsNot() {
        var c = Coalescer<Int>()
        let m = AvailabilityMessage(sku: "A", available: 5, onHand: 5, reserved: 0, version: 3, causes: [], computedAtMillis: 0)
        #expect(c.add(m, token: 1) == .queued)
        let taken = c.take(limit: 10).write
        c.markWritten(sku: "A", version: taken[0].message.version)
        #expect(c.add(m, token: 2) == .obsolete, "a plain repeat of the written version is dropped")
        #expect(c.add(m, token: 3, resync: true) == .queued)
        #expect(c.take(limit: 10).write.first?.resync == true)
        var older = m
        older.version = 2
        #expect(c.add(older, token: 4, resync: true) == .obsolete, "a resync never writes an older version")
    }

    @Test func aReconciliationJoinedByAPlainMessageStillKeepsTheBelief() {
        var c = Coalescer<Int>()
        let m = AvailabilityMessage(sku: "A", available: 5, onHand: 5, reserved: 0, version: 3, causes: [], computedAtMillis: 0)
        #expect(c.add(m, token: 1, resync: true, reconcile: true) == .queued)
        var newer = m
        newer.version = 4
        #expect(c.add(newer, token: 2) == .coalesced)
        let taken = c.take(limit: 1).write[0]
        #expect(taken.reconcile && taken.verify && taken.message.version == 4)
        #expect(c.add(m, token: 3, resync: true, reconcile: true) == .queued)
        #expect(c.add(m, token: 4, resync: true) == .coalesced)
        #expect(c.take(limit: 1).write[0].reconcile == false, "an operator's resync joined: the belief is forgotten")
    }
}

/// Resync through the exporter, the broker and simulated shops.
@Suite(.timeLimit(.minutes(2))) struct ResyncIntegrationTests {
    /// The read-back of a quiet SKU (``ShopWriter/Tuning/verifyAfter``, 2 s by default) also corrects a shop moved
    /// behind the exporter's back. A minute away, it cannot do the resync's or the reconciliation's work here (which
    /// would let those tests pass without them), nor correct the restored shop before the check that a plain repeat
    /// leaves it as it is.
    static var withoutReadBack: ShopWriter.Tuning {
        var t = ShopWriter.Tuning()
        t.verifyAfter = .seconds(60)
        return t
    }

    @Test func aRestoredShopIsCorrectedByAResyncAndOtherShopsAreNotWritten() async throws {
        let h = try await ExporterHarness.start(shops: 2, tuning: Self.withoutReadBack)
        let (restored, other) = (h.shops[0], h.shops[1])
        let sku = h.sku("restore")
        for shop in h.shops { _ = try await h.simulator.createVariant(shop: shop, sku: sku, available: 50) }
        try await h.publish(sku: sku, available: 5, version: 1)
        for shop in h.shops { #expect(try await eventually { try await h.level(shop, sku) == 5 }) }

        // The shop is restored from an old backup: it shows 40 again. A plain repeat does not fix it...
        try await h.simulator.setAvailable(shop: restored, sku: sku, available: 40)
        try await h.publish(sku: sku, available: 5, version: 1)
        try await h.barrier()  // the repeat has been handled in both shops
        #expect(try await h.level(restored, sku) == 40)
        let otherWrites = await h.writes(other).count

        // ...a resync of the same version, to that shop's queue only, does.
        try await publishResync(h, shop: restored, sku: sku, available: 5, version: 1)
        #expect(try await eventually { try await h.level(restored, sku) == 5 })
        try await h.barrier([other])  // whatever reached the other shop's queue with the resync has been handled
        #expect(await h.writes(other).count == otherWrites, "the other shop is not written")
        #expect(try await h.level(other, sku) == 5)
        await h.stop()
    }

    /// A reconciliation round reads the shop and writes only what drifted, never against a change in flight: a
    /// unit the shop lost that no order explains yet (a sale whose webhook is still on its way) stays held back,
    /// where an operator's resync (the shop may have been restored) forgets the belief and writes the truth.
    @Test func aReconciliationRepairsDriftButKeepsASaleStillOnItsWay() async throws {
        let h = try await ExporterHarness.start(shops: 1, tuning: Self.withoutReadBack)
        let shop = h.shops[0]
        let (drifted, selling, restored) = (h.sku("drifted"), h.sku("selling"), h.sku("restored"))
        for sku in [drifted, selling, restored] {
            _ = try await h.simulator.createVariant(shop: shop, sku: sku, available: 50)
            try await h.publish(sku: sku, available: 5, version: 1)
            #expect(try await eventually { try await h.level(shop, sku) == 5 })
        }
        try await h.barrier()  // the writes above are settled: the ledger believes 5 for each
        // `drifted` is set to 9 by hand (the exporter's ledger still believes 5); `selling` and `restored` each sell
        // a unit in the shop.
        try await h.simulator.setAvailable(shop: shop, sku: drifted, available: 9)
        try await h.simulator.setAvailable(shop: shop, sku: selling, available: 4)
        try await h.simulator.setAvailable(shop: shop, sku: restored, available: 4)
        let readsBefore = await h.calls(shop, "nodes").count

        try await publishResync(h, shop: shop, sku: drifted, available: 5, version: 1, reconcile: true)
        try await publishResync(h, shop: shop, sku: selling, available: 5, version: 1, reconcile: true)
        #expect(try await eventually { try await h.level(shop, drifted) == 5 }, "the drift is repaired")
        #expect(try await eventually { await h.calls(shop, "nodes").count > readsBefore }, "the shop was read")
        try await h.barrier()  // both reconciliation messages have been handled
        #expect(try await h.level(shop, selling) == 4, "the unit sold is not given back by a reconciliation")

        // The same state under an operator's resync: the belief is forgotten, and the truth is written.
        try await publishResync(h, shop: shop, sku: restored, available: 5, version: 1)
        #expect(try await eventually { try await h.level(shop, restored) == 5 }, "an operator's resync writes the truth")
        await h.stop()
    }

    @Test func resyncCommandSendsARequestToTheCalculatorsQueue() async throws {
        let h = try await ExporterHarness.start(shops: 1)
        let requests = "test.requests.\(h.prefix)"
        try await h.connection.declare([.quorumQueue(requests)])
        try await Exporter.Resync.request(shop: h.shops[0], requestsQueue: requests, connection: h.connection)
        let consumer = h.connection.consume(queue: requests, prefetch: 1)
        var received: ResyncRequest?
        for try await delivery in consumer {
            received = try ResyncRequest.decode(delivery.body)
            #expect(delivery.properties.type == ResyncRequest.messageType)
            delivery.ack()
            break
        }
        consumer.cancel()
        #expect(received?.shop.description == h.shops[0])

        await #expect(throws: (any Error).self, "a shop without a queue is named") {
            try await Exporter.Resync.request(
                shop: "\(h.prefix)-nowhere.myshopify.com", requestsQueue: requests, connection: h.connection)
        }
        await #expect(throws: (any Error).self, "no calculator request queue") {
            try await Exporter.Resync.request(
                shop: h.shops[0], requestsQueue: "test.no-such-queue.\(h.prefix)", connection: h.connection)
        }
        try? await h.connection.deleteQueue(requests)
        await h.stop()
    }

    /// What the calculator publishes in answer to a resync request.
    private func publishResync(
        _ h: ExporterHarness, shop: String, sku: String, available: Int64, version: Int64, reconcile: Bool = false
    ) async throws {
        let m = AvailabilityMessage(
            sku: sku, available: available, onHand: available, reserved: 0, version: version, causes: [],
            computedAtMillis: Int64(Date().timeIntervalSince1970 * 1000))
        try await h.connection.publish(
            AMQPMessage(
                exchange: "", routingKey: StockwireTopology.exporterQueue(shop: shop), body: try m.json(),
                properties: AMQPProperties(
                    contentType: "application/json", messageId: "\(sku)/\(version)", type: AvailabilityMessage.messageType,
                    headers: [
                        StockwireTopology.resyncHeader: reconcile ? .string(StockwireTopology.resyncReconcile) : 1
                    ])))
    }
}
