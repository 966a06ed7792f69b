// swift-tools-version: 6.1
import PackageDescription

/// Stockwire: live stock sync from one warehouse to many Shopify shops.
/// Three services (`ingest`, `calculator`, `exporter`) talk only over AMQP; see README.md.
let package = Package(
    name: "Stockwire",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ingest", targets: ["ingest"]),
        .executable(name: "calculator", targets: ["calculator"]),
        .executable(name: "exporter", targets: ["exporter"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.5.0"),
    ],
    targets: [
        // MARK: C shims (only the Swift wrappers import these)
        .systemLibrary(
            name: "CRabbitMQ", path: "Shared/CRabbitMQ", pkgConfig: "librabbitmq",
            providers: [.apt(["librabbitmq-dev"])]),
        .systemLibrary(
            name: "CLibPQ", path: "Shared/CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(
            name: "COpenSSL", path: "Shared/COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),

        // MARK: Shared libraries
        .target(name: "AMQP", dependencies: ["CRabbitMQ", .product(name: "Logging", package: "swift-log")], path: "Shared/AMQP"),
        .target(name: "Postgres", dependencies: ["CLibPQ", .product(name: "Logging", package: "swift-log")], path: "Shared/Postgres"),
        .target(name: "Signing", dependencies: ["COpenSSL"], path: "Shared/Signing"),
        .target(name: "Contracts", dependencies: ["AMQP"], path: "Shared/Contracts"),
        .target(
            name: "ServiceKit",
            dependencies: [
                "AMQP",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            path: "Shared/ServiceKit"),

        // MARK: Services
        .executableTarget(
            name: "ingest",
            dependencies: [
                "AMQP", "Contracts", "Signing", "ServiceKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Services/ingest"),
        .executableTarget(
            name: "calculator",
            dependencies: [
                "AMQP", "Contracts", "Postgres", "ServiceKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Services/calculator"),
        .executableTarget(
            name: "exporter",
            dependencies: [
                "AMQP", "Contracts", "ServiceKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Services/exporter"),

        // MARK: Tools
        .executableTarget(
            name: "amqp-bench",
            dependencies: ["AMQP", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Tools/amqp-bench"),

        // MARK: Tests
        .testTarget(name: "AMQPTests", dependencies: ["AMQP"]),
        .testTarget(name: "PostgresTests", dependencies: ["Postgres"]),
        .testTarget(name: "SigningTests", dependencies: ["Signing"]),
        .testTarget(name: "ContractsTests", dependencies: ["Contracts"]),
    ],
    swiftLanguageModes: [.v6]
)
