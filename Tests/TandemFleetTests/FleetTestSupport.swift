import Foundation
import Logging
import PostgresNIO
@testable import TandemFleet
import TandemJournal
import TandemTestSupport
import Testing

/// Whether PostgreSQL tests can run here; when not, they are skipped with this reason shown.
let postgresAvailable = PostgresTestServer.unavailableReason == nil
let postgresSkipReason: Comment = Comment(rawValue: "skipped: \(PostgresTestServer.unavailableReason ?? "")")

/// Runs `body` with a fleet store on `url` whose pool runs meanwhile.
func withStore<T: Sendable>(_ url: String, _ body: (FleetStore) async throws -> T) async throws -> T {
    var logger = Logger(label: "tandem.fleet.test")
    logger.logLevel = ProcessInfo.processInfo.environment["FLEET_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
    let endpoint = try FleetEndpoint(url)
    var configuration = endpoint.clientConfiguration
    configuration.options.connectTimeout = .seconds(2)
    let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { await client.run() }
        defer { group.cancelAll() }
        return try await body(FleetStore(client: client, logger: logger, endpoint: endpoint))
    }
}

/// A journal in a fresh data dir, filled with `runs` runs of the workload.
struct TestNode {
    let directory: TemporaryDirectory
    let journal: Journal
    let nodeID: String
    /// The SHA-256 of the data dir's node secret, as `serve` proves the node id with it.
    let secretHash: String

    init(_ nodeID: String, runs: Int = 0, firstRun: Int = 0, contentBytes: Int = 300) async throws {
        directory = try TemporaryDirectory(prefix: "tandem-fleet")
        journal = try Journal(JournalConfiguration(directory: directory.path, durability: .async), logger: Logger(label: "test"))
        self.nodeID = try NodeIdentity.resolve(configured: nodeID, dataDirectory: directory.path)
        secretHash = try NodeIdentity.secretHash(in: directory.path)
        if runs > 0 { try await Workload.append(runs: runs, to: journal, contentBytes: contentBytes, firstRun: firstRun) }
    }

    /// A shipper of this journal, proving the node id with this data dir's secret (or `secretHash`:
    /// the same node's journal rewritten in place keeps its secret).
    func shipper(
        _ store: FleetStore, batchSize: Int = 100, secretHash: String? = nil, beforeCommit: (@Sendable (UInt64) async throws -> Void)? = nil
    ) -> FleetShipper {
        var logger = Logger(label: "tandem.fleet.test")
        logger.logLevel = ProcessInfo.processInfo.environment["FLEET_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
        return FleetShipper(
            journal: journal, store: store, nodeID: nodeID, secretHash: secretHash ?? self.secretHash,
            configuration: .init(batchSize: batchSize, retryDelay: .milliseconds(20), maxRetryDelay: .milliseconds(200), beforeCommit: beforeCommit),
            logger: logger
        )
    }

    /// Every local line, in order.
    func lines() throws -> [String] {
        try journal.entries(from: 1).map(\.text)
    }
}

/// The lines stored for `node`, in seq order, and whether the seqs run 1…n without gaps.
func storedLines(_ server: PostgresTestServer, url: String, node: String) throws -> (lines: [String], gapless: Bool) {
    let output = try server.psql("SELECT seq || ' ' || line FROM tandem.journal WHERE node_id = '\(node)' ORDER BY seq", url: url)
    var lines: [String] = []
    var gapless = true
    for (index, row) in output.split(separator: "\n").enumerated() {
        let parts = row.split(separator: " ", maxSplits: 1)
        if Int(parts[0]) != index + 1 { gapless = false }
        lines.append(String(parts[1]))
    }
    return (lines, gapless)
}

/// An error a fault point throws to abandon a ship transaction.
struct InjectedFault: Error {}
