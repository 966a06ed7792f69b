import Foundation

#if canImport(Glibc)
    import Glibc
#endif

extension Process {
    /// Waits, checking every `interval`, until the process has exited; false when it still runs after `timeout`.
    /// Throws when the waiting task is cancelled.
    @discardableResult
    public func waitForExit(timeout: Duration, polling interval: Duration = .milliseconds(20)) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while isRunning {
            if ContinuousClock.now >= deadline { return false }
            try await Task.sleep(for: interval)
        }
        return true
    }

    /// Sends SIGKILL: no graceful shutdown, no flush, as when a machine dies or the OOM killer strikes.
    public func killAtOnce() {
        kill(processIdentifier, SIGKILL)
    }

    /// Stops the process as an orchestrator does: SIGTERM, up to `grace` to exit, then SIGKILL, and waits until it is
    /// gone. Returns true when it exited on its own (or had already).
    @discardableResult
    public func stop(grace: Duration, polling interval: Duration = .milliseconds(20)) async -> Bool {
        guard isRunning else { return true }
        terminate()
        if (try? await waitForExit(timeout: grace, polling: interval)) == true { return true }
        killAtOnce()
        waitUntilExit()
        return false
    }
}
