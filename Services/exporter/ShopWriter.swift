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
    let client: any ShopPlatformClient
    let connection: AMQPConnection
    let tuning: Tuning
    var logger: Logger

    /// What the writer knows while it owns the shop, and the decisions on it that need no I/O; replaced whole by a
    /// handover (``handOver(_:)``).
    var state: ShopWriterState<AMQPDelivery>
    var bucket = CostBucket(now: .now)
    /// What each call costs, learned from Shopify's answers.
    var costs = QueryCosts()
    /// Whether the shop's other locations were looked at since the start.
    var locationsChecked = false
    /// Writes done but not reported yet (``report(quantities:owner:entries:heldBack:soldSeen:key:)``).
    var unreported: [WriteReport.Write] = []
    var locationId: String?
    /// What follows each call to the shop: backoff, waits for the bucket, new idempotency keys, the pause.
    var policy: ShopCallPolicy
    private let wake: AsyncStream<Void>.Continuation
    private let wakes: AsyncStream<Void>
    let metrics: ShopMetrics
    /// The consumer of the shop's queue, once ``run()`` started it.
    private var consumer: AMQPConsumer?
    /// The subscription whose deliveries this writer holds (``AMQPDelivery/subscription``); nil before the first and
    /// after a handover. Everything the writer knows beyond the catalog — what it believes the shop holds, the
    /// versions written, the sales announced — is only true while that subscription stands (see ``handOver(_:)``).
    var lease: UInt64?
    /// Times the writer handed the shop over since it started.
    private(set) var handovers = 0

    init(shop: ShopSettings, client: any ShopPlatformClient, connection: AMQPConnection, tuning: Tuning, logger: Logger) {
        self.shop = shop
        self.client = client
        self.connection = connection
        self.tuning = tuning
        var logger = logger
        logger[metadataKey: "shop"] = "\(shop.domain)"
        self.logger = logger
        self.state = ShopWriterState(unseenTTL: tuning.unseenTTL, recheckAfter: tuning.recheckAfter)
        self.locationId = shop.locationId
        self.policy = Self.callPolicy(shop: shop, tuning: tuning)
        (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        self.metrics = ShopMetrics(shop: shop.domain.description)
    }

    /// Runs until cancelled: one task takes deliveries, one writes.
    nonisolated func run() async throws {
        let consumer = connection.consume(
            queue: StockwireTopology.exporterQueue(shop: shop.domain.description), prefetch: tuning.prefetch)
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
    func holds(_ lease: UInt64?) -> Bool {
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
    var readiness: String? { policy.pausedReason.map { "shop \(shop.domain) paused: \($0)" } }

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
            message, token: delivery, shop: shop.domain.description, resync: resync,
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

    typealias Entry = WriteEntry<AMQPDelivery>

    func write(_ batch: [Coalescer<AMQPDelivery>.Pending], lease: UInt64?) async {
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
            entries.append(Entry(pending: pending, items: items, target: pending.message.target(for: shop.domain.description)))
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
    func write(_ entries: [Entry], location: String, readBack: Bool, lease: UInt64?) async {
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
                ShopPlatform.Quantity(
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
                    logger.notice(
                        "a write sent before the shop was handed over was applied",
                        metadata: ["quantities": "\(quantities.count)"])
                }
                return
            }
            guard let (errors, key) = answer else {
                state.ledger.writeFailed(items: written)
                state.coalescer.putBack(entries.map(\.pending))
                return
            }
            let refusals = errors.map { WriteRefusal(code: $0.code, message: $0.message, index: $0.quantityIndex, kind: $0.kind) }
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
            guard let newer = state.coalescer.takeNewer(sku: current.message.sku, atLeast: current.message.version) else {
                continue
            }
            metrics.coalesced.increment()
            var merged = newer
            merged.tokens = current.tokens + newer.tokens
            merged.joinFlags(of: current)
            if newer.forgetsBelief && !current.forgetsBelief {
                entries[i].items.forEach { state.ledger.forgetBelieved(item: $0) }
            }
            entries[i].pending = merged
            entries[i].target = merged.message.target(for: shop.domain.description)
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

}
