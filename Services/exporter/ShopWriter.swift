import AMQP
import Contracts
import ExporterCore
import Foundation
import Logging
import Metrics
import ServiceLifecycle

/// Writes one shop: consumes `exporter.<shop>`, coalesces per SKU, and pushes compare-and-set writes to the
/// shop's Admin API within its rate limit.
///
/// Backpressure: the consumer's prefetch bounds what is held in memory; while the shop is slow, throttled,
/// failing or paused, the rest of the backlog stays in the broker. Each shop has its own writer, so one stalled
/// shop never delays another.
actor ShopWriter {
    /// Tuning of a writer.
    struct Tuning: Sendable {
        /// Unacknowledged deliveries held at most (the broker keeps the rest).
        var prefetch: UInt16 = 2_000
        /// Quantities per call (Shopify's maximum is 250).
        var maxBatch: Int = 250
        /// How long to wait for more changes before writing.
        var linger: Duration = .milliseconds(5)
        /// How long a paused shop (token refused, frozen, locked, closed, a scope missing) waits before it is tried
        /// again (the token file is read again); doubled after each refusal up to ``maxPause``.
        var pauseRetry: Duration = .seconds(30)
        /// The longest wait between two tries of a paused shop.
        var maxPause: Duration = .seconds(600)
        /// Longest backoff after transient failures.
        var maxBackoff: Duration = .seconds(30)
        /// Per-request timeout.
        var requestTimeout: Duration = .seconds(10)
        /// How long loss seen in the shop but not yet explained by an order is held back.
        var unseenTTL: Duration = .seconds(900)
        /// How long after a SKU's last write (or skipped write) with no newer message its levels are read back, and
        /// written where the shop differs from what the ledger expects; zero: never. The ledger infers the shop's
        /// level from compare-and-set answers and from sales and restocks announced by the truth; when webhooks
        /// arrive long after the shop changed (a broker or network outage, Shopify's retries), a sale and a restock
        /// can reach it in an order that leaves a belief one unit off. The read-back puts that right within
        /// seconds of the SKU going quiet instead of at the next change or reconciliation round.
        var verifyAfter: Duration = .seconds(2)
        /// How long the writes of SKUs without the guard are gathered before they are reported to the calculator
        /// (guarded ones go at once): at most one report per shop per interval, for `calculator explain`.
        var reportInterval: Duration = .seconds(1)
        /// When a SKU that a lookup did not find is looked up again (Shopify's search index lags product creation);
        /// after the last, only a catalog message maps it.
        var recheckAfter: [Duration] = ShopCatalog.defaultRecheckAfter
    }

    nonisolated let shop: ShopSettings
    private let client: AdminAPIClient
    private let connection: AMQPConnection
    private let tuning: Tuning
    private var logger: Logger

    /// What the writer knows while it owns the shop, and the decisions on it that need no I/O; replaced whole by a
    /// handover (``handOver(_:)``).
    private var state: ShopWriterState<AMQPDelivery>
    private var bucket = CostBucket(now: .now)
    /// What each call costs, learned from Shopify's answers.
    private var costs = QueryCosts()
    /// Whether the shop's other locations were looked at since the start.
    private var locationsChecked = false
    /// Writes done but not reported yet (``report(quantities:owner:entries:heldBack:soldSeen:key:)``).
    private var unreported: [WriteReport.Write] = []
    private var locationId: String?
    private(set) var pausedReason: String?
    /// The wait before the next try of a paused shop; doubles up to `Tuning.maxPause`, reset when it answers.
    private var pauseWait: Duration = .seconds(30)
    private let wake: AsyncStream<Void>.Continuation
    private let wakes: AsyncStream<Void>
    private let metrics: ShopMetrics
    /// The consumer of the shop's queue, once ``run()`` started it.
    private var consumer: AMQPConsumer?
    /// The subscription whose deliveries this writer holds (``AMQPDelivery/subscription``); nil before the first and
    /// after a handover. Everything the writer knows beyond the catalog — what it believes the shop holds, the
    /// versions written, the sales announced — is only true while that subscription stands (see ``handOver(_:)``).
    private var lease: UInt64?
    /// Times the writer handed the shop over since it started.
    private(set) var handovers = 0

    init(shop: ShopSettings, client: AdminAPIClient, connection: AMQPConnection, tuning: Tuning, logger: Logger) {
        self.shop = shop
        self.client = client
        self.connection = connection
        self.tuning = tuning
        var logger = logger
        logger[metadataKey: "shop"] = "\(shop.domain)"
        self.logger = logger
        self.state = ShopWriterState(unseenTTL: tuning.unseenTTL, recheckAfter: tuning.recheckAfter)
        self.locationId = shop.locationId
        self.pauseWait = tuning.pauseRetry
        (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        self.metrics = ShopMetrics(shop: shop.domain)
    }

    /// Runs until cancelled: one task takes deliveries, one writes.
    nonisolated func run() async throws {
        let consumer = connection.consume(queue: StockwireTopology.exporterQueue(shop: shop.domain), prefetch: tuning.prefetch)
        await attach(consumer)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for try await delivery in consumer { await self.receive(delivery) }
            }
            group.addTask { try await self.writeLoop() }
            group.addTask { try await self.verifyLoop() }
            group.addTask { try await self.reportLoop() }
            defer { consumer.cancel() }
            try await group.next()
            group.cancelAll()
        }
        await self.flushReports()
    }

    /// Reports gathered writes every ``Tuning/reportInterval``.
    private func reportLoop() async throws {
        while true {
            try await Task.sleep(for: tuning.reportInterval)
            flushReports()
        }
    }

    private func attach(_ consumer: AMQPConsumer) { self.consumer = consumer }

    /// Deliveries held in memory waiting for a write (bounded by the prefetch).
    var heldDeliveries: Int { state.coalescer.heldDeliveries }

    // MARK: - Owning the shop

    /// Whether the writer still owns the shop under `lease`: the subscription it was given stands. When it no longer
    /// does, the writer hands the shop over (``handOver(_:)``) and acts on nothing it held.
    ///
    /// With several exporter instances the shop's queue has a single active consumer. When the active instance's
    /// connection dies (a broker node killed, a network cut), the broker returns its unacknowledged deliveries and
    /// gives the queue to a standby, while this writer — whose consumer re-subscribes by itself after the
    /// reconnect, as a standby now — still holds those deliveries. Writing on, it raced the new owner: on a cluster
    /// with one broker node killed (`faults --fault broker-node-kill`, seed 2) the old owner, retrying a write after
    /// a stale answer, wrote version 44 after the new owner's 51, and four shops were left units below the truth.
    private func holds(_ lease: UInt64?) -> Bool {
        guard let lease, lease == self.lease else { return false }
        if consumer?.subscription == lease { return true }
        handOver("the subscription to the shop's queue ended (connection or channel lost)")
        return false
    }

    /// Drops everything the writer knew under its lease, as a restart would: the deliveries it held are back in the
    /// queue (with whichever instance owns it now, this one included), and another instance may have written the
    /// shop meanwhile, so beliefs, written versions and announced sales are no longer true. The shop is read afresh
    /// before the next write. Writes in flight finish on their own; nothing after their answer is acted on.
    private func handOver(_ reason: String) {
        logger.warning(
            "shop handed over: what this writer held is dropped and the shop is read afresh before the next write",
            metadata: ["reason": "\(reason)", "deliveries_dropped": "\(state.coalescer.heldDeliveries)"])
        metrics.handovers.increment()
        handovers += 1
        flushReports()  // writes that happened are reported whoever owns the shop now
        lease = nil
        state = ShopWriterState(unseenTTL: tuning.unseenTTL, recheckAfter: tuning.recheckAfter)
    }

    /// Puts a write that did not happen back, unless the lease it was taken under is gone (its deliveries are then
    /// back in the queue).
    private func putBack(_ batch: [Coalescer<AMQPDelivery>.Pending], lease: UInt64?) {
        guard holds(lease) else { return }
        state.coalescer.putBack(batch)
    }

    /// The reason this shop is not being written, or nil.
    var readiness: String? { pausedReason.map { "shop \(shop.domain) paused: \($0)" } }

    // MARK: - Taking deliveries

    func receive(_ delivery: AMQPDelivery) async {
        if delivery.subscription != lease {
            if lease != nil { handOver("the shop's queue was subscribed again (after a reconnect)") }
            // A delivery of a subscription that ended before it was taken is back in the queue already.
            guard delivery.isLive else { return }
            lease = delivery.subscription
        }
        if delivery.redelivered { state.lastRedeliveryAt = .now }
        if delivery.properties.type == CatalogMessage.messageType {
            await receiveCatalog(delivery)
            return
        }
        let message: AvailabilityMessage
        do {
            message = try AvailabilityMessage.decode(delivery.body)
        } catch {
            await deadLetter([delivery], reason: "unreadable availability message: \(error)")
            return
        }
        let flag = delivery.properties.headers[StockwireTopology.resyncHeader]
        let resync = flag != nil
        if resync { metrics.resyncs.increment() }
        let outcome = state.receive(
            message, token: delivery, shop: shop.domain, resync: resync,
            reconcile: flag?.stringValue == StockwireTopology.resyncReconcile)
        switch outcome {
        case .queued: break
        case .coalesced: metrics.coalesced.increment()
        case .obsolete:
            metrics.coalesced.increment()
            delivery.ack()
        }
        wake.yield()
    }

    /// Applies a catalog message of this shop: later writes map SKUs from it without asking Shopify. An
    /// inventory item that a SKU gains gets the SKU's last written value at once.
    private func receiveCatalog(_ delivery: AMQPDelivery) async {
        let message: CatalogMessage
        do {
            message = try CatalogMessage.decode(delivery.body)
        } catch {
            await deadLetter([delivery], reason: "unreadable catalog message: \(error)")
            return
        }
        guard message.shop == shop.domain else {
            await deadLetter([delivery], reason: "catalog message of shop \(message.shop) reached \(shop.domain)'s queue")
            return
        }
        let (change, rewrites) = state.apply(message)
        delivery.ack()
        metrics.catalogUpdates.increment()
        if change.ignoredAsOlder {
            logger.debug("older catalog snapshot of a product ignored", metadata: ["product_id": "\(message.productId)"])
            return
        }
        for (sku, variants) in change.shared.sorted(by: { $0.key < $1.key }) {
            logger.warning(
                "several variants share one SKU: all of them are written",
                metadata: ["sku": "\(sku)", "variants": "\(variants.joined(separator: ", "))"])
        }
        for (sku, reason) in change.unprotectable.sorted(by: { $0.key < $1.key }) { reportUnprotectable(sku: sku, reason) }
        for sku in change.sellsBeyondStock.sorted() { reportSellsBeyondStock(sku: sku) }
        if rewrites > 0 { wake.yield() }
    }

    // MARK: - Writing

    private func writeLoop() async throws {
        for await _ in wakes {
            try await Task.sleep(for: tuning.linger)
            try await gatherHandedOverBacklog()
            while state.coalescer.count > 0 {
                try Task.checkCancellation()
                let lease = self.lease
                guard holds(lease) else { break }
                let taken = state.coalescer.take(limit: tuning.maxBatch)
                for pending in taken.obsolete {
                    metrics.coalesced.increment()
                    pending.tokens.forEach { $0.ack() }
                }
                if !taken.write.isEmpty { await write(taken.write, lease: lease) }
            }
        }
    }

    /// Waits while the backlog of a previous owner keeps coming (deliveries flagged `redelivered`, which the broker
    /// returns ahead of the rest), up to half a second: planned in pieces, an older version of a SKU could be written
    /// before the newer one further back in it, and the shop move back for a moment. A quiet 20 ms ends the wait;
    /// without a handover nothing is redelivered and nothing waits.
    private func gatherHandedOverBacklog() async throws {
        var waited = Duration.zero
        while let last = state.lastRedeliveryAt, ContinuousClock.now - last < .milliseconds(20), waited < .milliseconds(500) {
            try await Task.sleep(for: .milliseconds(10))
            waited += .milliseconds(10)
        }
    }

    /// Queues the read-back of every SKU that has been quiet for ``Tuning/verifyAfter``, a few times a second.
    private func verifyLoop() async throws {
        let tick = tuning.verifyAfter > .zero ? min(tuning.verifyAfter / 4, .milliseconds(500)) : .seconds(3600)
        while true {
            try await Task.sleep(for: tick)
            let now = ContinuousClock.now
            var queued = 0
            guard holds(lease) else { continue }
            for (sku, due) in state.verifyDue where due <= now {
                state.verifyDue[sku] = nil
                guard let last = state.lastWritten[sku], state.catalog.items(sku: sku)?.isEmpty == false else { continue }
                state.coalescer.rewrite(last, verify: true)
                queued += 1
            }
            // SKUs a lookup missed are looked up again on spare points only (the bucket more than half full): a shop
            // that lists a few of the warehouse's SKUs must not spend its writes' points on the others.
            if bucket.current(at: now) > bucket.maximum / 2 {
                for sku in state.catalog.rechecksDue(now: now, limit: Self.rechecksPerTick) {
                    guard let last = state.lastWritten[sku] else { continue }
                    state.coalescer.rewrite(last)
                    queued += 1
                }
            }
            if queued > 0 {
                metrics.verifications.increment(by: queued)
                wake.yield()
            }
        }
    }

    private typealias Entry = WriteEntry<AMQPDelivery>

    private func write(_ batch: [Coalescer<AMQPDelivery>.Pending], lease: UInt64?) async {
        let location = await resolveLocation()
        guard holds(lease) else { return }
        guard let location else {
            state.coalescer.putBack(batch)
            return
        }
        var entries: [Entry] = []
        for pending in batch {
            let items = await resolveItems(sku: pending.message.sku)
            guard holds(lease) else { return }
            guard let items else {
                state.coalescer.putBack([pending])
                continue
            }
            if items.isEmpty {
                metrics.skipped.increment()
                settle(pending)
                continue
            }
            if pending.forgetsBelief { items.forEach { state.ledger.forgetBelieved(item: $0) } }
            entries.append(Entry(pending: pending, items: items, target: pending.message.target(for: shop.domain)))
        }
        for chunk in Self.chunks(entries, maxItems: tuning.maxBatch) {
            await write(chunk, location: location, readBack: false, lease: lease)
        }
    }

    /// `entries` in order, in runs of at most `maxItems` inventory items. A write sends one quantity per item, and
    /// Shopify refuses a whole request whose input array holds more than 250 (https://shopify.dev/docs/api/usage/limits):
    /// a batch of 250 SKUs, 60 of them on two variants, was refused and sent again for ever, and the shop stuck.
    static func chunks<E>(_ entries: [E], maxItems: Int, items: (E) -> Int) -> [[E]] {
        var out: [[E]] = []
        var current: [E] = []
        var count = 0
        for entry in entries {
            let n = items(entry)
            if !current.isEmpty, count + n > maxItems {
                out.append(current)
                current = []
                count = 0
            }
            current.append(entry)
            count += n
        }
        if !current.isEmpty { out.append(current) }
        return out
    }

    private static func chunks(_ entries: [Entry], maxItems: Int) -> [[Entry]] {
        chunks(entries, maxItems: maxItems) { $0.items.count }
    }

    /// Writes `entries` in compare-and-set rounds until the shop takes them (settled), the writer is cancelled or
    /// they keep going stale (put back). `readBack`: their verifying read was done already. Once `lease` is lost
    /// (``holds(_:)``), nothing more is done with them.
    private func write(_ entries: [Entry], location: String, readBack: Bool, lease: UInt64?) async {
        var entries = entries
        var readBack = readBack
        var staleRounds = 0
        while !entries.isEmpty {
            guard holds(lease) else { return }
            // Every round plans with the newest version of each SKU. While this write waited (a read, a stale
            // answer, throttling), newer versions came in and their announcements moved the ledger: their sales are
            // no longer unseen. An older version's target with that ledger gives back every unit sold in between —
            // under the guard, units another shop has been given (seen: a shop that had sold out its share of 13
            // written 11 again, from the version taken before those sales).
            absorbNewerVersions(&entries)
            let unknown = state.itemsToRead(entries, readBack: readBack)
            if !unknown.isEmpty {
                guard await readLevels(unknown, location: location, lease: lease) else {
                    putBack(entries.map(\.pending), lease: lease)
                    return
                }
                readBack = true
                continue  // versions may have come during the read
            }
            let soldSeen = state.soldTotalSeen
            let plan = state.plan(entries, now: .now)
            let quantity = { (p: WritePlan.Item) in
                AdminAPIClient.Quantity(
                    inventoryItemId: p.item, locationId: location, quantity: p.quantity, changeFromQuantity: p.changeFrom)
            }
            let quantities = plan.send.map(quantity)
            let owner = plan.send.map(\.entry)
            let heldBack = plan.heldBack
            let heldGuarded = plan.heldGuarded.map { (quantity: quantity($0), entry: $0.entry) }
            if quantities.isEmpty {
                report(
                    quantities: heldGuarded.map(\.quantity), owner: heldGuarded.map(\.entry), entries: entries,
                    heldBack: heldBack, soldSeen: soldSeen)
                entries.forEach { settle($0.pending) }
                return
            }
            let reference =
                entries.count == 1
                ? Self.reference(sku: entries[0].sku, version: entries[0].pending.message.version)
                : "gid://stockwire/StockBatch/\(UUID().uuidString)"
            let written = quantities.map(\.inventoryItemId)
            state.ledger.beginWrite(items: written)
            let answer = await send(quantities, reference: reference, lease: lease)
            // Under a lost lease the answer is only logged: the ledger, the versions and the deliveries it would
            // settle belong to the writer's next owner period, which reads the shop afresh.
            guard holds(lease) else {
                if let answer, answer.errors.isEmpty {
                    logger.notice("a write sent before the shop was handed over was applied", metadata: ["quantities": "\(quantities.count)"])
                }
                return
            }
            guard let (errors, key) = answer else {
                state.ledger.writeFailed(items: written)
                state.coalescer.putBack(entries.map(\.pending))
                return
            }
            let refusals = errors.map { WriteRefusal(code: $0.code, message: $0.message, index: $0.quantityIndex) }
            let verdict = plan.answer(refusals, entryCount: entries.count)
            if verdict != .applied { state.ledger.writeFailed(items: written) }
            switch verdict {
            case .applied:
                for (q, e) in zip(quantities, owner) where entries[e].pending.verify && !entries[e].pending.reconcile {
                    metrics.verifyRepaired.increment()
                    logger.notice(
                        "read-back found the shop off what was written: corrected",
                        metadata: [
                            "sku": "\(entries[e].sku)", "item": "\(q.inventoryItemId)",
                            "shop_had": "\(q.changeFromQuantity.map(String.init) ?? "?")", "written": "\(q.quantity)",
                        ])
                }
                for (q, e) in zip(quantities, owner) where entries[e].pending.resync {
                    // A resync or reconciliation found the shop holding something other than the truth.
                    metrics.driftRepaired.increment()
                    logger.info(
                        "drift repaired",
                        metadata: [
                            "sku": "\(entries[e].sku)", "item": "\(q.inventoryItemId)",
                            "shop_had": "\(q.changeFromQuantity.map(String.init) ?? "?")", "written": "\(q.quantity)",
                        ])
                }
                for q in quantities { state.ledger.wrote(item: q.inventoryItemId, quantity: q.quantity) }
                report(
                    quantities: quantities + heldGuarded.map(\.quantity), owner: owner + heldGuarded.map(\.entry),
                    entries: entries, heldBack: heldBack, soldSeen: soldSeen, key: key)
                metrics.writes.increment()
                metrics.quantities.increment(by: quantities.count)
                entries.forEach { settle($0.pending) }
                return
            case .leaveOut(let sent):
                // A bundle parent refuses every write (its stock is its components'): leave that item out from now on
                // and write the rest, instead of failing the batch for it.
                for i in sent {
                    let item = quantities[i].inventoryItemId
                    let e = owner[i]
                    if state.catalog.note(item: item, tracked: nil, continueSelling: nil, bundle: true).unprotectable != nil {
                        reportUnprotectable(sku: entries[e].sku, .bundle)
                    }
                    entries[e].items.removeAll { $0 == item }
                }
                for entry in entries where entry.items.isEmpty {
                    metrics.skipped.increment()
                    settle(entry.pending)
                }
                entries.removeAll { $0.items.isEmpty }
            case .refusedAll(let refusal):
                logger.error(
                    "shop refused a write", metadata: ["code": "\(refusal.code ?? "-")", "reason": "\(refusal.message)"])
                await deadLetter(
                    entries.flatMap(\.pending.tokens), reason: "\(refusal.code ?? "USER_ERROR"): \(refusal.message)")
                return
            case .refused(let refused, let refusals):
                for (e, refusal) in zip(refused, refusals) {
                    let entry = entries[e]
                    state.catalog.forget(sku: entry.sku)
                    logger.error(
                        "shop refused the write of a SKU",
                        metadata: ["sku": "\(entry.sku)", "code": "\(refusal.code ?? "-")", "reason": "\(refusal.message)"])
                    await deadLetter(entry.pending.tokens, reason: "\(refusal.code ?? "USER_ERROR"): \(refusal.message)")
                }
                let drop = Set(refused)
                entries = entries.enumerated().filter { !drop.contains($0.offset) }.map(\.element)
            case .stale(let staleEntries, let read):
                // The shop holds something other than we believed. Read, account for the difference, retry.
                metrics.stale.increment()
                staleRounds += 1
                if staleRounds > 8 {
                    logger.warning(
                        "levels keep changing under our writes, retrying later", metadata: ["skus": "\(entries.count)"])
                    state.coalescer.putBack(entries.map(\.pending))
                    return
                }
                if staleEntries.count < entries.count {
                    // The shop held every other quantity as planned: write those at once, in a call of their own,
                    // instead of holding them behind the read of the stale ones. In a shop that sells all the time a
                    // batch of 250 went stale round after round (a popular SKU sold again during each read), and every
                    // SKU in it waited seconds (black-friday, 4 shops at 100 sales/s each: end to end p50 3.5–5.5 s,
                    // 0.8–1.3 s with the split).
                    let clean = entries.indices.filter { !staleEntries.contains($0) }.map { entries[$0] }
                    entries = entries.indices.filter { staleEntries.contains($0) }.map { entries[$0] }
                    metrics.staleSplits.increment()
                    await write(clean, location: location, readBack: readBack, lease: lease)
                    guard holds(lease) else { return }
                }
                guard await readLevels(read, location: location, lease: lease) else {
                    putBack(entries.map(\.pending), lease: lease)
                    return
                }
            }
        }
    }

    /// The `referenceDocumentUri` of a write of one SKU's version: `gid://stockwire/StockVersion/<sku>/<version>`,
    /// the SKU percent-encoded (RFC 3986: everything but unreserved characters). Shopify refuses a reference that
    /// is not a valid URI (`INVALID_REFERENCE_DOCUMENT`), and real SKUs hold spaces, `#`, `%`, `/` and umlauts:
    /// taken raw, every write of `TEE BLUE M` was refused and dead-lettered, and the SKU never synced.
    static func reference(sku: String, version: Int64) -> String {
        "gid://stockwire/StockVersion/\(sku.addingPercentEncoding(withAllowedCharacters: uriUnreserved) ?? sku)/\(version)"
    }

    /// RFC 3986's unreserved characters, the only ones a reference leaves as they are.
    static let uriUnreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    /// Folds into each entry the SKU's pending write of a newer version, if one came in meanwhile: its target
    /// replaces the entry's, its deliveries are settled with the write. Synchronous, so that the plan that follows
    /// sees the target and the ledger as of the same announcements.
    private func absorbNewerVersions(_ entries: inout [Entry]) {
        for i in entries.indices {
            let current = entries[i].pending
            guard let newer = state.coalescer.takeNewer(sku: current.message.sku, atLeast: current.message.version) else { continue }
            metrics.coalesced.increment()
            var merged = newer
            merged.tokens = current.tokens + newer.tokens
            merged.joinFlags(of: current)
            if newer.forgetsBelief && !current.forgetsBelief {
                entries[i].items.forEach { state.ledger.forgetBelieved(item: $0) }
            }
            entries[i].pending = merged
            entries[i].target = merged.message.target(for: shop.domain)
        }
    }

    /// Tells the calculator what was written (`stockwire.writes`), for `calculator explain` and, for SKUs under the
    /// zero-oversell guard, as the confirmation that frees units (with the units held back and the version's
    /// sold total: see `WriteReport.Write`). Best effort and off the write path: a report that cannot be published
    /// is only logged (the guard then frees those units with a later report).
    ///
    /// Writes of SKUs without the guard are gathered and reported together (``Tuning/reportInterval``): nothing waits
    /// for them but `explain`, and one report per write cost each webhook 4 more publishes, queue copies, acks and an
    /// SQL statement at 85 events/s over 4 shops, when each change is a write of its own (BENCHMARKS.md, issue #19).
    /// `key`: the idempotency key of the mutation that wrote them, nil when nothing was sent (levels already held).
    private func report(
        quantities: [AdminAPIClient.Quantity], owner: [Int], entries: [Entry], heldBack: [String: Int64],
        soldSeen: [String: Int64], key: String? = nil
    ) {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        var seen = Set<Int>()
        var writes: [WriteReport.Write] = []
        for (q, e) in zip(quantities, owner) where q.inventoryItemId == entries[e].items.first && seen.insert(e).inserted {
            let m = entries[e].pending.message
            let guarded = m.shares != nil
            writes.append(
                .init(
                    sku: m.sku, version: m.version, value: q.quantity, writtenAtMillis: now,
                    firstReceivedAtMillis: m.firstReceivedAtMillis,
                    heldBack: guarded ? heldBack[q.inventoryItemId] ?? 0 : nil,
                    soldTotal: guarded ? soldSeen[m.sku] ?? m.soldTotals?[shop.domain] ?? 0 : nil, idempotencyKey: key))
        }
        guard !writes.isEmpty else { return }
        unreported.append(contentsOf: writes)
        // A guarded write frees units another shop may be waiting for: it goes at once, with what waits beside it.
        if writes.contains(where: { $0.soldTotal != nil }) || unreported.count >= tuning.maxBatch { flushReports() }
    }

    /// Publishes the writes not reported yet as one report. ``reportLoop()`` calls it every
    /// ``Tuning/reportInterval``; a guarded write or a full batch calls it at once.
    private func flushReports() {
        guard !unreported.isEmpty else { return }
        defer { unreported.removeAll(keepingCapacity: true) }
        guard let body = try? WriteReport(shop: shop.domain, writes: unreported).json() else { return }
        metrics.reports.increment()
        let message = AMQPMessage(
            exchange: StockwireTopology.writesExchange, routingKey: shop.domain, body: body,
            properties: WriteReport.properties(), mandatory: false)
        let connection = connection
        let logger = logger
        Task {
            do {
                try await connection.publish(message, timeout: .seconds(10))
            } catch {
                logger.debug("write report not published (explain misses it)", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Marks a pending write done: the shop has this version (or it was skipped); its deliveries are acknowledged.
    private func settle(_ pending: Coalescer<AMQPDelivery>.Pending) {
        state.coalescer.markWritten(sku: pending.message.sku, version: pending.message.version)
        // A write driven by messages is read back once the SKU is quiet; one that read the shop first (a
        // reconciliation round) was just read: reading it again doubled what a round cost each shop.
        if !pending.tokens.isEmpty, !pending.verify, tuning.verifyAfter > .zero {
            state.verifyDue[pending.message.sku] = .now + tuning.verifyAfter
        }
        if pending.message.version >= state.lastWritten[pending.message.sku]?.version ?? .min {
            state.lastWritten[pending.message.sku] = pending.message
        }
        if state.rewriteAfterSettle.remove(pending.message.sku) != nil, let last = state.lastWritten[pending.message.sku] {
            state.coalescer.rewrite(last)
            wake.yield()
        }
        if let ms = Self.endToEndMillis(of: pending, nowMillis: Int64(Date().timeIntervalSince1970 * 1000)) {
            metrics.endToEnd.recordMilliseconds(ms)
        }
        for token in pending.tokens { token.ack() }
    }

    /// The end-to-end sample a settled write gives (ingest receipt of its version's first cause → now), or nil
    /// when it delivered nothing: a read-back or a rewrite carries the message written last, and timing it from that
    /// message's receipt counted seconds of quiet as latency (at 100 webhooks/s the histogram showed p99 4.9 s
    /// where the deliveries took 27 ms).
    static func endToEndMillis<Token>(of pending: Coalescer<Token>.Pending, nowMillis: Int64) -> Int64? {
        guard !pending.tokens.isEmpty, let first = pending.message.firstReceivedAtMillis else { return nil }
        return max(0, nowMillis - first)
    }

    /// Sends one mutation until Shopify answers it; the same idempotency key on every resend.
    /// Returns the user errors (empty = applied) and the key of the attempt Shopify answered, or nil when the writer is
    /// being cancelled or has lost `lease`.
    private func send(
        _ quantities: [AdminAPIClient.Quantity], reference: String, lease: UInt64?
    ) async -> (errors: [AdminAPIClient.UserError], key: String)? {
        var key = UUID().uuidString
        var backoff = Duration.milliseconds(200)
        while !Task.isCancelled, holds(lease) {
            let wait = bucket.reserve(cost: costs.estimate(.write), at: .now)
            if wait > .zero {
                metrics.throttledWaits.increment()
                guard (try? await Task.sleep(for: wait)) != nil else { return nil }
            }
            do {
                let (errors, status) = try await client.setQuantities(
                    quantities, reason: "correction", referenceDocumentUri: reference, idempotencyKey: key)
                adopt(status, call: .write)
                resume()
                if errors.contains(where: { $0.code == "IDEMPOTENCY_CONCURRENT_REQUEST" }) {
                    // The earlier attempt with this key is still running at Shopify (our side timed out): wait, same key.
                    guard await backOff(&backoff) else { return nil }
                    continue
                }
                if errors.contains(where: { $0.code == "IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED" }) {
                    key = UUID().uuidString  // Shopify asks for a new key after a failed attempt
                    continue
                }
                return (errors, key)
            } catch let failure as AdminAPIClient.Failure {
                guard await handle(failure, cost: costs.estimate(.write), backoff: &backoff) else { return nil }
            } catch {
                guard await handle(.transient("\(error)"), cost: costs.estimate(.write), backoff: &backoff) else { return nil }
            }
        }
        return nil
    }

    /// Waits as the failure requires; false when cancelled meanwhile.
    private func handle(_ failure: AdminAPIClient.Failure, cost: Double, backoff: inout Duration) async -> Bool {
        switch failure {
        case .throttled(let retryAfter, let status):
            adopt(status)
            bucket.throttled(retryAfter: retryAfter, cost: cost, at: .now)
            metrics.throttledWaits.increment()
            return true
        case .transient(let reason):
            logger.warning("shop call failed, retrying", metadata: ["reason": "\(reason)", "retry_in": "\(backoff)"])
            metrics.transientFailures.increment()
            return await backOff(&backoff)
        case .unauthorized:
            return await pause(
                state: "unauthorized",
                reason: "Admin API token refused (401): fix the token file \(shop.tokenFile), it is read again")
        case .refused(let refusal):
            return await pause(state: refusal.name, reason: refusal.reason)
        case .rejected(let reason):
            // A request refused as a whole is a bug on our side or a schema change: wait and retry rather than drop.
            logger.error("shop rejected a request", metadata: ["reason": "\(reason)"])
            return await backOff(&backoff)
        case .tooCostly(let cost):
            // Only a level read grows with its input, and it splits itself (fetchLevels); any other call over the
            // maximum is a bug on our side or a changed cost rule: wait and retry rather than drop.
            logger.error(
                "shop refused a query as too costly", metadata: ["cost": "\(cost.map { "\($0)" } ?? "?")", "maximum": "\(QueryCosts.maximumPerQuery)"])
            return await backOff(&backoff)
        }
    }

    /// Waits `backoff`, then doubles it (up to ``Tuning/maxBackoff``); false when cancelled meanwhile.
    private func backOff(_ backoff: inout Duration) async -> Bool {
        let ok = (try? await Task.sleep(for: backoff)) != nil
        backoff = min(backoff * 2, tuning.maxBackoff)
        return ok
    }

    /// Adopts what Shopify reported with an answer: the call's requested cost, and the bucket as it stands.
    private func adopt(_ report: AdminAPIClient.CostReport?, call: QueryCosts.Call, items: Int = 1) {
        if let requested = report?.requestedQueryCost { costs.learn(call, items: items, requested: requested) }
        adopt(report?.throttle)
    }

    private func adopt(_ status: AdminAPIClient.ThrottleStatus?) {
        guard let status else { return }
        bucket.update(
            maximum: status.maximumAvailable, currentlyAvailable: status.currentlyAvailable,
            restoreRate: status.restoreRate, at: .now)
    }

    /// Pauses the shop by name: one log line when the reason changes, the paused gauge, the reason in `/readyz`; then
    /// waits and lets the caller try again, which is the probe that resumes the shop once it answers. Its backlog
    /// stays in the broker, and the other shops' writers are not touched. False when cancelled meanwhile.
    private func pause(state: String, reason: String) async -> Bool {
        if pausedReason != reason {
            let message = "shop paused: \(reason); its changes wait in the broker, the other shops go on, and it is "
                + "tried again by itself (first in \(tuning.pauseRetry), then less often)"
            logger.error("\(message)", metadata: ["state": "\(state)"])
            pauseWait = tuning.pauseRetry
        }
        pausedReason = reason
        metrics.paused.record(1)
        Counter(label: "stockwire_exporter_shop_refusals_total", dimensions: [("shop", shop.domain), ("state", state)])
            .increment()
        let wait = pauseWait
        pauseWait = min(pauseWait * 2, tuning.maxPause)
        return (try? await Task.sleep(for: wait)) != nil
    }

    private func resume() {
        if let pausedReason { logger.notice("shop answers again: resuming", metadata: ["was": "\(pausedReason)"]) }
        pausedReason = nil
        pauseWait = tuning.pauseRetry
        metrics.paused.record(0)
    }

    // MARK: - Lookups

    private func resolveLocation() async -> String? {
        if let locationId {
            if !locationsChecked {
                locationsChecked = true  // best effort: a failed read is tried at the next start
                if let all = try? await client.locations() { warnAboutLocations(all, writing: locationId) }
            }
            return locationId
        }
        var backoff = Duration.milliseconds(200)
        while !Task.isCancelled {
            do {
                let locations = try await client.locations()
                resume()
                guard locations.count == 1 else {
                    logger.error(
                        "shop has \(locations.count) locations: set location_id in the shops file to the one Stockwire writes",
                        metadata: ["locations": "\(locations.map(\.label).joined(separator: ", "))"])
                    pausedReason = "location_id not configured and the shop has \(locations.count) locations"
                    _ = try? await Task.sleep(for: tuning.pauseRetry)
                    continue
                }
                locationId = locations[0].id
                locationsChecked = true
                warnAboutLocations(locations, writing: locations[0].id)
                return locationId
            } catch let failure as AdminAPIClient.Failure {
                guard await handle(failure, cost: costs.estimate(.locations), backoff: &backoff) else { return nil }
            } catch {
                return nil
            }
        }
        return nil
    }

    /// Once per start, from the locations read to find the one written: warns when it does not sell online, or when
    /// other locations of the shop do. Stockwire writes one location; another that fulfils online orders sells its own
    /// stock of the same SKUs, and every order line still reserves the warehouse's stock (README, "Several locations").
    private func warnAboutLocations(_ all: [AdminAPIClient.Location], writing location: String) {
        if let own = all.first(where: { $0.id == location }), !own.sellsOnline {
            logger.warning(
                "the location Stockwire writes does not sell online: the online store does not offer the stock written there",
                metadata: ["location": "\(own.label)", "active": "\(own.isActive)"])
        }
        let others = all.filter { $0.id != location && $0.sellsOnline }
        guard !others.isEmpty else { return }
        logger.warning(
            "other locations of this shop fulfil online orders: Shopify adds their stock of a SKU to what the shop sells, and orders it routes there still reserve the warehouse's stock; run exporter check-shop",
            metadata: ["locations": "\(others.map(\.label).joined(separator: ", "))"])
    }

    /// The inventory items of `sku` in this shop ([] when the shop does not list it); nil when cancelled.
    /// From the catalog when a catalog message named the SKU; otherwise looked up once by SKU.
    private func resolveItems(sku: String) async -> [String]? {
        if let known = state.catalog.items(sku: sku) { return known }
        var backoff = Duration.milliseconds(200)
        while !Task.isCancelled {
            let wait = bucket.reserve(cost: costs.estimate(.variants), at: .now)
            if wait > .zero { guard (try? await Task.sleep(for: wait)) != nil else { return nil } }
            do {
                let (variants, status) = try await client.variants(sku: sku)
                adopt(status, call: .variants)
                resume()
                for v in variants {
                    let (reason, continueSelling) = state.catalog.note(
                        item: v.inventoryItemId, tracked: v.tracked, continueSelling: v.continueSelling,
                        bundle: v.requiresComponents)
                    if let reason { reportUnprotectable(sku: sku, reason) }
                    if continueSelling { reportSellsBeyondStock(sku: sku) }
                }
                let missedBefore = state.catalog.recordLookup(sku: sku, items: variants.map(\.inventoryItemId))
                if missedBefore > 0 { metrics.rechecks.increment() }
                if variants.isEmpty {
                    let next =
                        missedBefore < tuning.recheckAfter.count
                        ? "looked up again in \(tuning.recheckAfter[missedBefore])" : "left to the product webhooks"
                    logger.info("SKU not listed in this shop: skipped, \(next)", metadata: ["sku": "\(sku)"])
                } else if missedBefore > 0 {
                    logger.notice(
                        "SKU found on a later lookup (Shopify's search had not indexed it yet): written now",
                        metadata: ["sku": "\(sku)", "lookups_missed": "\(missedBefore)"])
                }
                if variants.count > 1 {
                    logger.warning(
                        "several variants share one SKU: all of them are written",
                        metadata: ["sku": "\(sku)", "variants": "\(variants.map(\.id).joined(separator: ", "))"])
                }
                metrics.lookups.increment()
                return state.catalog.items(sku: sku) ?? []
            } catch let failure as AdminAPIClient.Failure {
                guard await handle(failure, cost: costs.estimate(.variants), backoff: &backoff) else { return nil }
            } catch {
                return nil
            }
        }
        return nil
    }

    /// Reads the actual levels of `items` into the ledger; false when cancelled. An item whose read was ambiguous
    /// (a change of the shop's own was announced while it was in flight: ``ShopLedger`` step 7) is read again, up to
    /// ``ambiguousReadLimit`` times, then taken with the belief erring low.
    /// Under a lost `lease` it stops and returns false, touching nothing.
    private func readLevels(_ items: [String], location: String, lease: UInt64?) async -> Bool {
        // `nodes(ids:)` takes at most 250 ids, like every input array, and a read of 250 costs about 750 points
        // against Shopify's maximum of 1,000 per query.
        let most = costs.levelItemsPerQuery(limit: tuning.maxBatch)
        guard items.count <= most else {
            for start in stride(from: 0, to: items.count, by: most) {
                guard await readLevels(Array(items[start..<min(start + most, items.count)]), location: location, lease: lease)
                else { return false }
            }
            return true
        }
        var items = items
        var attempt = 1
        while !items.isEmpty {
            guard let levels = await fetchLevels(items, location: location, lease: lease) else { return false }
            let now = ContinuousClock.now
            let final = attempt >= Self.ambiguousReadLimit
            items = items.filter { !state.ledger.readAnswered(item: $0, actual: levels[$0] ?? 0, now: now, final: final) }
            if !items.isEmpty { metrics.ambiguousReads.increment(by: items.count) }
            attempt += 1
        }
        return true
    }

    /// One log line and a count when an item of `sku` turns out to be one no written level protects.
    private func reportUnprotectable(sku: String, _ reason: ShopCatalog.Unprotectable) {
        let why =
            reason == .untracked
            ? "Shopify does not track this item's inventory, so it never counts it down: turn on \"Track quantity\" for the variant"
            : "the variant is a bundle parent: Shopify computes its stock from its components, which Stockwire writes"
        logger.warning("item not written: \(why)", metadata: ["sku": "\(sku)", "reason": "\(reason.rawValue)"])
        Counter(label: "stockwire_exporter_unprotectable_items_total", dimensions: [("shop", shop.domain), ("reason", reason.rawValue)])
            .increment()
    }

    /// One log line and a count when an item of `sku` turns out to sell beyond its stock (inventory policy CONTINUE).
    private func reportSellsBeyondStock(sku: String) {
        logger.warning(
            "variant keeps selling when out of stock (inventory policy CONTINUE): Stockwire writes its level, but Shopify sells beyond it; set \"Continue selling when out of stock\" off to protect it",
            metadata: ["sku": "\(sku)"])
        Counter(label: "stockwire_exporter_unprotectable_items_total", dimensions: [("shop", shop.domain), ("reason", "continue_selling")])
            .increment()
    }

    /// SKUs a lookup missed that one tick of the verify loop sends to be looked up again, at most.
    static let rechecksPerTick = 10

    /// How many times an item is read while its own sales keep being announced during the read.
    static let ambiguousReadLimit = 3

    /// One read of `items`' levels, begun in the ledger (step 7); nil when cancelled. A read Shopify finds too costly
    /// teaches the cost per item and is read in halves.
    private func fetchLevels(_ items: [String], location: String, lease: UInt64?) async -> [String: Int64]? {
        var backoff = Duration.milliseconds(200)
        while !Task.isCancelled, holds(lease) {
            let wait = bucket.reserve(cost: costs.estimate(.levels, items: items.count), at: .now)
            if wait > .zero { guard (try? await Task.sleep(for: wait)) != nil, holds(lease) else { return nil } }
            state.ledger.beginRead(items: items)
            do {
                let (levels, status) = try await client.levels(items: items, locationId: location)
                // The ledger the read began in was dropped with the lease.
                guard holds(lease) else { return nil }
                adopt(status, call: .levels, items: items.count)
                resume()
                return levels
            } catch AdminAPIClient.Failure.tooCostly(let cost) where items.count > 1 {
                guard holds(lease) else { return nil }
                state.ledger.readFailed(items: items)
                metrics.costlyReads.increment()
                costs.learn(.levels, items: items.count, requested: cost ?? costs.estimate(.levels, items: items.count) * 2)
                logger.warning(
                    "a level read was over Shopify's query cost maximum: read in halves",
                    metadata: ["items": "\(items.count)", "cost": "\(cost.map { "\($0)" } ?? "?")"])
                let half = items.count / 2
                guard let first = await fetchLevels(Array(items[..<half]), location: location, lease: lease),
                    let second = await fetchLevels(Array(items[half...]), location: location, lease: lease)
                else { return nil }
                return first.merging(second) { a, _ in a }
            } catch let failure as AdminAPIClient.Failure {
                guard holds(lease) else { return nil }
                state.ledger.readFailed(items: items)
                guard await handle(failure, cost: costs.estimate(.levels, items: items.count), backoff: &backoff) else { return nil }
            } catch {
                if holds(lease) { state.ledger.readFailed(items: items) }
                return nil
            }
        }
        return nil
    }

    // MARK: - Dead letters

    /// Moves deliveries to this shop's dead-letter queue with the reason, then acknowledges them. When the
    /// broker cannot take them now they stay unacknowledged, so they come back rather than vanish.
    private func deadLetter(_ deliveries: [AMQPDelivery], reason: String) async {
        let queue = StockwireTopology.exporterQueue(shop: shop.domain)
        // A delivery whose subscription ended is back in the queue: dead-lettering it too would file it twice.
        for delivery in deliveries where delivery.isLive {
            var properties = delivery.properties
            properties.headers["x-stockwire-reason"] = .string(reason)
            properties.headers["x-stockwire-queue"] = .string(queue)
            do {
                try await connection.publish(
                    AMQPMessage(
                        exchange: StockwireTopology.deadExchange, routingKey: queue, body: delivery.body, properties: properties),
                    timeout: .seconds(10))
                delivery.ack()
                metrics.deadLettered.increment()
            } catch {
                logger.error("could not dead-letter a message; it will come back", metadata: ["reason": "\(error)"])
            }
        }
    }
}

/// The metrics of one shop's writer.
struct ShopMetrics: Sendable {
    let writes: Counter
    let quantities: Counter
    let coalesced: Counter
    let throttledWaits: Counter
    let stale: Counter
    let staleSplits: Counter
    let skipped: Counter
    let lookups: Counter
    let catalogUpdates: Counter
    let deadLettered: Counter
    let resyncs: Counter
    let driftRepaired: Counter
    let verifications: Counter
    let verifyRepaired: Counter
    let ambiguousReads: Counter
    /// Level reads Shopify refused as over its single-query cost maximum (read again in halves).
    let costlyReads: Counter
    /// Lookups of a SKU that an earlier lookup had not found (Shopify's search index lags product creation).
    let rechecks: Counter
    let transientFailures: Counter
    /// Write reports published (each gathers the writes of up to ``ShopWriter/Tuning/reportInterval``).
    let reports: Counter
    /// Times the writer lost the shop's queue to a new subscription and dropped what it held (``ShopWriter``).
    let handovers: Counter
    let paused: Gauge
    let endToEnd: Metrics.Timer

    init(shop: String) {
        let d = [("shop", shop)]
        writes = Counter(label: "stockwire_exporter_writes_total", dimensions: d)
        quantities = Counter(label: "stockwire_exporter_quantities_total", dimensions: d)
        coalesced = Counter(label: "stockwire_exporter_coalesced_total", dimensions: d)
        throttledWaits = Counter(label: "stockwire_exporter_throttled_waits_total", dimensions: d)
        stale = Counter(label: "stockwire_exporter_stale_answers_total", dimensions: d)
        staleSplits = Counter(label: "stockwire_exporter_stale_splits_total", dimensions: d)
        skipped = Counter(label: "stockwire_exporter_unmapped_skus_total", dimensions: d)
        lookups = Counter(label: "stockwire_exporter_sku_lookups_total", dimensions: d)
        catalogUpdates = Counter(label: "stockwire_exporter_catalog_updates_total", dimensions: d)
        deadLettered = Counter(label: "stockwire_exporter_dead_lettered_total", dimensions: d)
        resyncs = Counter(label: "stockwire_exporter_resync_messages_total", dimensions: d)
        driftRepaired = Counter(label: "stockwire_exporter_drift_repaired_total", dimensions: d)
        verifications = Counter(label: "stockwire_exporter_read_backs_total", dimensions: d)
        verifyRepaired = Counter(label: "stockwire_exporter_read_back_repairs_total", dimensions: d)
        ambiguousReads = Counter(label: "stockwire_exporter_ambiguous_reads_total", dimensions: d)
        costlyReads = Counter(label: "stockwire_exporter_costly_reads_total", dimensions: d)
        rechecks = Counter(label: "stockwire_exporter_sku_rechecks_total", dimensions: d)
        transientFailures = Counter(label: "stockwire_exporter_transient_failures_total", dimensions: d)
        handovers = Counter(label: "stockwire_exporter_handovers_total", dimensions: d)
        reports = Counter(label: "stockwire_exporter_write_reports_total", dimensions: d)
        paused = Gauge(label: "stockwire_exporter_shop_paused", dimensions: d)
        endToEnd = Metrics.Timer(label: "stockwire_exporter_end_to_end_seconds", dimensions: d)
    }
}
