import Synchronization

/// Polls `condition` every 50 ms until it holds or `timeout` passes; returns whether it held.
///
/// For a condition that must *become* true. A check that something did *not* happen needs a barrier instead (an
/// event the system handles after the one under test, waited for with this): a sleep followed by a check passes on
/// a slow machine whatever the code does.
public func eventually(
    timeout: Duration = .seconds(20), _ condition: () async throws -> Bool
) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}

/// A value shared between test tasks.
public final class Shared<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    public init(_ value: Value) { mutex = Mutex(value) }
    public var value: Value { mutex.withLock { $0 } }
    public func update(_ body: (inout Value) -> Void) { mutex.withLock { body(&$0) } }
}

/// A test's own error, thrown where a helper gives up (with what it saw).
public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
