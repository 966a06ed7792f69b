import Foundation

/// Where the tests find the repository and the executables built with them.
public enum BuildProducts {
    /// The repository's root folder (this file is `Tests/TestSupport/BuildProducts.swift`).
    public static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The folder the test bundle was built into, holding the services and tools built with it (any
    /// `--scratch-path`); `.build/debug` when `probe` is not beside the test bundle.
    /// Only integration tests may ask: they start what they find there (``IntegrationTests``).
    public static func directory(containing probe: String) -> URL {
        IntegrationTests.require("the built executables")
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        if FileManager.default.isExecutableFile(atPath: beside.appendingPathComponent(probe).path) { return beside }
        return repository.appendingPathComponent(".build/debug")
    }

    /// The executable `name` built with the tests (``directory(containing:)``); it may be missing.
    public static func executable(_ name: String) -> URL {
        directory(containing: name).appendingPathComponent(name)
    }
}
