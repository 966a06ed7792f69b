import Foundation

/// One thing the injector did, for the report.
public struct FaultEvent: Codable, Sendable {
    /// Seconds since the load's first event.
    public var t: Double
    /// When (UTC, milliseconds), to line it up with the simulator's logs and the diagnosis timelines.
    public var at: String
    public var what: String

    /// Creates an event.
    public init(t: Double, at: String, what: String) {
        self.t = t
        self.at = at
        self.what = what
    }
}
