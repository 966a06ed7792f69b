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
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.20.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.60.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
    ],
    targets: [
        // MARK: C shims (only the Swift wrappers import these)
        .systemLibrary(
            name: "CRabbitMQ", path: "Shared/CRabbitMQ", pkgConfig: "librabbitmq",
            providers: [.apt(["librabbitmq-dev"])]),
        .systemLibrary(
            name: "CLibPQ", path: "Shared/CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(
            name: "CZlib", path: "Tools/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(
            name: "COpenSSL", path: "Shared/COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),

        // MARK: Shared libraries
        .target(name: "AMQP", dependencies: ["CRabbitMQ", .product(name: "Logging", package: "swift-log")], path: "Shared/AMQP"),
        .target(
            name: "Postgres",
            dependencies: [
                "CLibPQ", .product(name: "Logging", package: "swift-log"), .product(name: "Metrics", package: "swift-metrics"),
            ],
            path: "Shared/Postgres"),
        .target(name: "Signing", dependencies: ["COpenSSL"], path: "Shared/Signing"),
        .target(name: "Contracts", dependencies: ["AMQP"], path: "Shared/Contracts"),
        .target(
            name: "ServiceKit",
            dependencies: [
                "AMQP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            path: "Shared/ServiceKit"),

        // MARK: Service cores (pure domain logic: no I/O, imported by the services, the tools and the tests)
        .target(name: "StockCore", dependencies: ["Contracts"], path: "Core/StockCore"),
        .target(name: "ExporterCore", dependencies: ["Contracts"], path: "Core/ExporterCore"),

        // MARK: Services
        .executableTarget(
            name: "ingest",
            dependencies: [
                "AMQP", "Contracts", "Signing", "ServiceKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"), .product(name: "Metrics", package: "swift-metrics"),
            ],
            path: "Services/ingest"),
        .executableTarget(
            name: "calculator",
            dependencies: [
                "AMQP", "Contracts", "Postgres", "ServiceKit", "StockCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"), .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Services/calculator"),
        .executableTarget(
            name: "exporter",
            dependencies: [
                "AMQP", "Contracts", "ServiceKit", "ExporterCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Services/exporter"),

        // MARK: Tools
        .target(name: "Toolbox", path: "Tools/Toolbox"),
        // The scenario runner's JSON reports: the runner writes them, the end-to-end tests read the same types.
        .target(name: "ScenarioReports", path: "Tools/ScenarioReports"),
        .target(
            name: "ShopifySchema", dependencies: ["CZlib"], path: "Tools/ShopifySchema",
            exclude: ["Resources/SOURCE.md", "README.md"], resources: [.copy("Resources/admin_2026-04.json.gz")]),
        .executableTarget(name: "schema-bench", dependencies: ["ShopifySchema"], path: "Tools/schema-bench"),
        .target(
            name: "ShopifySimulator",
            dependencies: [
                "Signing", "ShopifySchema",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HTTPTypes", package: "swift-http-types"), .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Tools/ShopifySimulator"),
        .executableTarget(
            name: "shopify-sim",
            dependencies: [
                "ShopifySimulator", "Toolbox", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tools/shopify-sim"),
        .executableTarget(
            name: "stockwire-scenario",
            dependencies: [
                "ShopifySimulator", "Postgres", "AMQP", "BrokerBench", "NetworkFaults", "Contracts", "StockCore", "Toolbox",
                "ScenarioReports",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Tools/scenario"),
        .target(name: "NetworkFaults", path: "Tools/NetworkFaults"),
        .target(
            name: "BrokerBench", dependencies: ["AMQP", "Toolbox", .product(name: "Logging", package: "swift-log")],
            path: "Tools/amqp-bench/BrokerBench"),
        .executableTarget(
            name: "amqp-bench",
            dependencies: [
                "AMQP", "BrokerBench", "Toolbox", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tools/amqp-bench", exclude: ["BrokerBench"]),
        .executableTarget(
            name: "webhook-load",
            dependencies: ["Signing", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Tools/webhook-load"),

        .executableTarget(
            name: "calculator-bench",
            dependencies: ["AMQP", "Contracts", "Postgres", "Toolbox", .product(name: "Logging", package: "swift-log")],
            path: "Tools/calculator-bench"),
        .executableTarget(
            name: "exporter-bench",
            dependencies: [
                "ShopifySimulator", "AMQP", "Contracts", "Toolbox",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tools/exporter-bench"),

        // MARK: Tests
        // What the test targets share: the broker and database fixtures, `eventually`, the build products, and the
        // rule that only suites named …IntegrationTests use servers (README.md, "Tests").
        .target(
            name: "StockwireTestSupport",
            dependencies: ["AMQP", "Postgres", "ShopifySimulator", .product(name: "Logging", package: "swift-log")],
            path: "Tests/TestSupport"),
        .testTarget(
            name: "AMQPTests",
            dependencies: ["AMQP", "NetworkFaults", "StockwireTestSupport", .product(name: "Logging", package: "swift-log")]),
        .testTarget(
            name: "PostgresTests",
            dependencies: ["Postgres", "StockwireTestSupport", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "SigningTests", dependencies: ["Signing"]),
        .testTarget(name: "ContractsTests", dependencies: ["Contracts", "StockwireTestSupport"]),
        .testTarget(name: "ShopifySchemaTests", dependencies: ["ShopifySchema", "exporter"]),
        .testTarget(
            name: "IngestTests",
            dependencies: [
                "ingest", "AMQP", "Contracts", "Signing", "ServiceKit", "ShopifySimulator", "StockwireTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "HTTPTypes", package: "swift-http-types"), .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "ShopifySimulatorTests",
            dependencies: [
                "ShopifySimulator", "Signing", "StockwireTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
            ]),
        .testTarget(
            name: "ExporterTests",
            dependencies: [
                "exporter", "ExporterCore", "ShopifySimulator", "AMQP", "Contracts", "ServiceKit", "NetworkFaults",
                "StockwireTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(name: "EndToEndTests", dependencies: ["ScenarioReports", "StockwireTestSupport"]),
        .testTarget(
            name: "CalculatorTests",
            dependencies: [
                "calculator", "StockCore", "AMQP", "Contracts", "Postgres", "ServiceKit", "StockwireTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "PropertyBased", package: "swift-property-based"), .product(name: "Logging", package: "swift-log"),
            ]),
    ],
    swiftLanguageModes: [.v6]
)
