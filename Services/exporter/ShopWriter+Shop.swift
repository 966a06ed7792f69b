import AMQP
import Contracts
import ExporterCore
import Foundation
import Metrics

// The writer's calls to the shop: throttled by its cost bucket, paused while the shop refuses service, and the
// lookups (location, items, levels) a write needs; and dead-lettering what the shop refuses for good.
extension ShopWriter {
    /// Sends one compare-and-set write until the shop answers it; the same idempotency key on every resend.
    /// Returns the user errors (empty = applied) and the key of the attempt the shop answered, or nil when the writer is
    /// being cancelled or has lost `lease`.
    func send(
        _ quantities: [ShopPlatform.Quantity], reference: String, lease: UInt64?
    ) async -> (errors: [ShopPlatform.UserError], key: String)? {
        var key = UUID().uuidString
        var call = policy.call()
        while !Task.isCancelled, holds(lease) {
            let wait = bucket.reserve(cost: costs.estimate(.write), at: .now)
            if wait > .zero {
                metrics.throttledWaits.increment()
                guard (try? await Task.sleep(for: wait)) != nil else { return nil }
            }
            var errors: [ShopPlatform.UserError] = []
            let outcome: ShopCallPolicy.Outcome
            do {
                let (written, status) = try await client.write(
                    quantities, reason: "correction", reference: reference, idempotencyKey: key)
                adopt(status, call: .write)
                resume()
                if case .answered(let answered) = written { errors = answered }
                outcome = ShopCallPolicy.Outcome(written)
            } catch let failure as ShopPlatform.Failure {
                outcome = .failed(failure)
            } catch {
                outcome = .failed(.transient("\(error)"))
            }
            switch policy.next(after: outcome, call: &call) {
            case .done: return (errors, key)
            case .retryNewKey: key = UUID().uuidString  // the shop asks for a new key after a failed attempt
            case let action: guard await perform(action, cost: costs.estimate(.write)) else { return nil }
            }
        }
        return nil
    }

    /// The policy of a writer's calls to `shop`, with `tuning`'s waits.
    static func callPolicy(shop: ShopSettings, tuning: Tuning) -> ShopCallPolicy {
        ShopCallPolicy(
            maxBackoff: tuning.maxBackoff, pauseRetry: tuning.pauseRetry, maxPause: tuning.maxPause,
            unauthorizedReason: "Admin API token refused (401): fix the token file \(shop.tokenFile), it is read again")
    }

    /// Performs what ``ShopCallPolicy`` decided after `failure` of `call`; false when cancelled meanwhile.
    private func handle(_ failure: ShopPlatform.Failure, cost: Double, call: inout ShopCallPolicy.Call) async -> Bool {
        await perform(policy.next(after: .failed(failure), call: &call), cost: cost)
    }

    /// Performs a wait ``ShopCallPolicy`` decided (a call of `cost` points): sleeps, logs, counts; false when cancelled
    /// meanwhile.
    private func perform(_ action: ShopCallPolicy.Action, cost: Double) async -> Bool {
        switch action {
        case .done, .retryNewKey:
            return true
        case .split:
            // Decided only for a call of several items, which only the level read makes and splits itself
            // (fetchLevels); anything else sends the same request again.
            return true
        case .retrySameKey(let wait):
            // The earlier attempt with this key is still running at the shop (our side timed out): wait, same key.
            return (try? await Task.sleep(for: wait)) != nil
        case .waitForBucket(let retryAfter, let status):
            adopt(status)
            bucket.throttled(retryAfter: retryAfter, cost: cost, at: .now)
            metrics.throttledWaits.increment()
            return true
        case .backOff(let wait, let failure):
            switch failure {
            case .transient(let reason):
                logger.warning("shop call failed, retrying", metadata: ["reason": "\(reason)", "retry_in": "\(wait)"])
                metrics.transientFailures.increment()
            case .rejected(let reason):
                // A request refused as a whole is a bug on our side or a schema change: wait and retry rather than drop.
                logger.error("shop rejected a request", metadata: ["reason": "\(reason)"])
            case .tooCostly(let cost):
                // Only a level read grows with its input, and the policy splits it (fetchLevels); any other call over
                // the maximum is a bug on our side or a changed cost rule: wait and retry rather than drop.
                logger.error(
                    "shop refused a query as too costly",
                    metadata: ["cost": "\(cost.map { "\($0)" } ?? "?")", "maximum": "\(QueryCosts.maximumPerQuery)"])
            case .unauthorized, .throttled, .refused:
                break  // not backed off (ShopCallPolicy.next)
            }
            return (try? await Task.sleep(for: wait)) != nil
        case .pause(let state, let reason, let announce, let wait):
            // The shop is paused by name: one log line when the reason changes, the paused gauge, the reason in
            // `/readyz`; then the caller tries again, which is the probe that resumes the shop once it answers. Its
            // backlog stays in the broker, and the other shops' writers are not touched.
            if announce {
                let message =
                    "shop paused: \(reason); its changes wait in the broker, the other shops go on, and it is "
                    + "tried again by itself (first in \(tuning.pauseRetry), then less often)"
                logger.error("\(message)", metadata: ["state": "\(state)"])
            }
            metrics.paused.record(1)
            Counter(
                label: "stockwire_exporter_shop_refusals_total",
                dimensions: [("shop", shop.domain.description), ("state", state)]
            )
            .increment()
            return (try? await Task.sleep(for: wait)) != nil
        }
    }

    /// Adopts what the shop reported with an answer: the call's requested cost, and the bucket as it stands.
    private func adopt(_ report: ShopPlatform.CostReport?, call: QueryCosts.Call, items: Int = 1) {
        if let requested = report?.requestedQueryCost { costs.learn(call, items: items, requested: requested) }
        adopt(report?.throttle)
    }

    private func adopt(_ status: ShopPlatform.ThrottleStatus?) {
        guard let status else { return }
        bucket.update(
            maximum: status.maximumAvailable, currentlyAvailable: status.currentlyAvailable,
            restoreRate: status.restoreRate, at: .now)
    }

    /// The shop answered: no longer paused.
    private func resume() {
        if let was = policy.resume() { logger.notice("shop answers again: resuming", metadata: ["was": "\(was)"]) }
        metrics.paused.record(0)
    }

    func resolveLocation() async -> String? {
        if let locationId {
            if !locationsChecked {
                locationsChecked = true  // best effort: a failed read is tried at the next start
                if let all = try? await client.locations() { warnAboutLocations(all, writing: locationId) }
            }
            return locationId
        }
        var call = policy.call()
        while !Task.isCancelled {
            do {
                let locations = try await client.locations()
                resume()
                guard locations.count == 1 else {
                    logger.error(
                        "shop has \(locations.count) locations: set location_id in the shops file to the one Stockwire writes",
                        metadata: ["locations": "\(locations.map(\.label).joined(separator: ", "))"])
                    let wait = policy.hold("location_id not configured and the shop has \(locations.count) locations")
                    _ = try? await Task.sleep(for: wait)
                    continue
                }
                locationId = locations[0].id
                locationsChecked = true
                warnAboutLocations(locations, writing: locations[0].id)
                return locationId
            } catch let failure as ShopPlatform.Failure {
                guard await handle(failure, cost: costs.estimate(.locations), call: &call) else { return nil }
            } catch {
                return nil
            }
        }
        return nil
    }

    /// Once per start, from the locations read to find the one written: warns when it does not sell online, or when
    /// other locations of the shop do. Stockwire writes one location; another that fulfils online orders sells its own
    /// stock of the same SKUs, and every order line still reserves the warehouse's stock (README, "Several locations").
    private func warnAboutLocations(_ all: [ShopPlatform.Location], writing location: String) {
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
    func resolveItems(sku: String) async -> [String]? {
        if let known = state.catalog.items(sku: sku) { return known }
        var call = policy.call()
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
            } catch let failure as ShopPlatform.Failure {
                guard await handle(failure, cost: costs.estimate(.variants), call: &call) else { return nil }
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
    func readLevels(_ items: [String], location: String, lease: UInt64?) async -> Bool {
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

    /// SKUs a lookup missed that one tick of the verify loop sends to be looked up again, at most.
    static let rechecksPerTick = 10

    /// How many times an item is read while its own sales keep being announced during the read.
    static let ambiguousReadLimit = 3

    /// One read of `items`' levels, begun in the ledger (step 7); nil when cancelled. A read Shopify finds too costly
    /// teaches the cost per item and is read in two parts (``ShopCallPolicy/Action/split(at:cost:)``).
    private func fetchLevels(_ items: [String], location: String, lease: UInt64?) async -> [String: Int64]? {
        var call = policy.call(items: items.count)
        while !Task.isCancelled, holds(lease) {
            let cost = costs.estimate(.levels, items: items.count)
            let wait = bucket.reserve(cost: cost, at: .now)
            if wait > .zero { guard (try? await Task.sleep(for: wait)) != nil, holds(lease) else { return nil } }
            state.ledger.beginRead(items: items)
            let failure: ShopPlatform.Failure
            do {
                let (levels, status) = try await client.levels(items: items, locationId: location)
                // The ledger the read began in was dropped with the lease.
                guard holds(lease) else { return nil }
                adopt(status, call: .levels, items: items.count)
                resume()
                return levels
            } catch let refused as ShopPlatform.Failure {
                failure = refused
            } catch {
                if holds(lease) { state.ledger.readFailed(items: items) }
                return nil
            }
            guard holds(lease) else { return nil }
            state.ledger.readFailed(items: items)
            switch policy.next(after: .failed(failure), call: &call) {
            case .split(let first, let whole):
                metrics.costlyReads.increment()
                costs.learn(.levels, items: items.count, requested: whole ?? cost * 2)
                logger.warning(
                    "a level read was over Shopify's query cost maximum: read in two parts",
                    metadata: ["items": "\(items.count)", "cost": "\(whole.map { "\($0)" } ?? "?")"])
                guard let head = await fetchLevels(Array(items[..<first]), location: location, lease: lease),
                    let tail = await fetchLevels(Array(items[first...]), location: location, lease: lease)
                else { return nil }
                return head.merging(tail) { a, _ in a }
            case let action:
                guard await perform(action, cost: cost) else { return nil }
            }
        }
        return nil
    }

    /// Moves deliveries to this shop's dead-letter queue with the reason, then acknowledges them. When the
    /// broker cannot take them now they stay unacknowledged, so they come back rather than vanish.
    func deadLetter(_ deliveries: [AMQPDelivery], reason: String) async {
        let queue = StockwireTopology.exporterQueue(shop: shop.domain.description)
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
