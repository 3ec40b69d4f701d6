// swift-tools-version: 6.1
import PackageDescription

/// Upcoming language features every target of tandem builds with (see docs/DESIGN.md).
let upcomingFeatures: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("NonisolatedNonsendingByDefault"),
]

let package = Package(
    name: "tandem",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tandem", targets: ["tandem"]),
        // For tests only: `tandem` with crash-test fault points installed from the environment.
        .executable(name: "tandem-faults", targets: ["tandem-faults"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        // MARK: Storage
        .systemLibrary(
            name: "CLMDB",
            path: "Sources/CLMDB",
            pkgConfig: "lmdb",
            providers: [.apt(["liblmdb-dev"])]
        ),
        // The only target that imports CLMDB (docs/DESIGN.md, "Storage").
        .target(
            name: "TandemStorage",
            dependencies: ["CLMDB"]
        ),
        .target(
            name: "TandemJournal",
            dependencies: [
                "TandemStorage",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // MARK: Domain
        .target(
            name: "TandemDomain",
            dependencies: ["TandemJournal"]
        ),
        // MARK: Projections
        .target(
            name: "TandemProjections",
            dependencies: [
                "TandemStorage",
                "TandemJournal",
                "TandemDomain",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // MARK: Models and runs
        .target(
            name: "TandemProviders",
            dependencies: [
                "TandemDomain",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .target(
            name: "TandemRuns",
            dependencies: [
                "TandemJournal",
                "TandemDomain",
                "TandemProviders",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // MARK: Fleet store
        // What the HTTP layer reads of the fleet store: a protocol, no PostgreSQL.
        .target(
            name: "TandemFleetReading",
            dependencies: ["TandemJournal"]
        ),
        .target(
            name: "TandemFleet",
            dependencies: [
                "TandemFleetReading",
                "TandemJournal",
                "TandemDomain",
                "TandemProjections",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // MARK: HTTP
        .target(
            name: "TandemServer",
            dependencies: [
                "TandemJournal",
                "TandemFleetReading",
                "TandemDomain",
                "TandemRuns",
                "TandemProjections",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            // The console's files, compiled into the binary as byte arrays (`PackageResources`).
            resources: [.embedInCode("Console/Assets")]
        ),
        // MARK: Command line
        .target(
            name: "TandemCLI",
            dependencies: [
                "TandemJournal",
                "TandemFleet",
                "TandemDomain",
                "TandemProviders",
                "TandemRuns",
                "TandemServer",
                "TandemProjections",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "tandem",
            dependencies: [
                "TandemCLI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "tandem-faults",
            dependencies: [
                "TandemCLI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tools/TandemFaults"
        ),
        // MARK: Benchmarks
        .target(
            name: "CLMDBBaseline",
            path: "Tools/CLMDBBaseline",
            linkerSettings: [.linkedLibrary("lmdb")]
        ),
        // The ceiling `tandem-bench ceiling` measures tandem against: tandem's frames, no work.
        .executableTarget(
            name: "tandem-ceiling",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Tools/TandemCeiling"
        ),
        .executableTarget(
            name: "tandem-bench",
            dependencies: [
                "TandemJournal",
                "TandemFleet",
                "TandemDomain",
                "TandemProjections",
                "CLMDBBaseline",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tools/TandemBench"
        ),
        // MARK: Tests
        // Helpers for storage, journal and domain tests: no HTTP stack linked.
        .target(
            name: "TandemTestSupport",
            dependencies: ["CLMDB", "TandemJournal", "TandemDomain"],
            path: "Tests/TandemTestSupport"
        ),
        // Fake upstreams and providers, a test server, SSE and load clients.
        .target(
            name: "TandemHTTPTestSupport",
            dependencies: [
                "TandemTestSupport", "TandemJournal", "TandemDomain", "TandemProviders", "TandemRuns", "TandemServer", "TandemProjections",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/TandemHTTPTestSupport"
        ),
        .testTarget(
            name: "TandemStorageTests",
            dependencies: [
                "TandemStorage", "TandemJournal", "TandemDomain", "TandemProjections", "TandemTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "TandemJournalTests",
            dependencies: ["TandemJournal", "TandemDomain", "TandemTestSupport", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "TandemDomainTests",
            dependencies: ["TandemDomain", "TandemJournal", "TandemTestSupport", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "TandemRunsTests",
            dependencies: [
                "TandemRuns", "TandemProviders", "TandemDomain", "TandemJournal", "TandemTestSupport", "TandemHTTPTestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "TandemProjectionsTests",
            dependencies: [
                "TandemProjections", "TandemDomain", "TandemJournal", "TandemTestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "TandemProvidersTests",
            dependencies: [
                "TandemProviders", "TandemDomain", "TandemJournal", "TandemRuns", "TandemServer", "TandemTestSupport", "TandemHTTPTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "TandemServerTests",
            dependencies: [
                "TandemServer", "TandemRuns", "TandemProviders", "TandemProjections", "TandemDomain", "TandemJournal", "TandemTestSupport", "TandemHTTPTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "TandemFleetTests",
            dependencies: [
                "TandemFleet", "TandemJournal", "TandemDomain", "TandemProjections", "TandemTestSupport", "TandemHTTPTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "TandemCLITests",
            dependencies: [
                "TandemJournal", "TandemDomain", "TandemProjections", "TandemRuns", "TandemTestSupport", "TandemHTTPTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
    ]
)

for target in package.targets where target.type != .system && target.name != "CLMDBBaseline" {
    target.swiftSettings = (target.swiftSettings ?? []) + [.swiftLanguageMode(.v6)] + upcomingFeatures
}
