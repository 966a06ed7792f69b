import ServiceLifecycle

/// Waits `interval` before a periodic service's next round; false, at once, when the service group starts its
/// graceful shutdown (SIGTERM) or the task is cancelled, and the service should return.
///
/// A plain `Task.sleep` does not end on a graceful shutdown, which only cancels what asks for it: a loop around one
/// keeps the whole process alive until the orchestrator kills it. A round already under way is not interrupted;
/// only the wait before the next one is.
public func waitForNextRound(_ interval: Duration) async -> Bool {
    if Task.isCancelled || Task.isShuttingDownGracefully { return false }
    do {
        try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
    } catch {
        return false
    }
    return !Task.isCancelled && !Task.isShuttingDownGracefully
}
