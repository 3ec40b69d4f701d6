import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import TandemFleet
import TandemJournal
import UnixSignals

/// `tandem fleet …`: the fleet audit store on PostgreSQL (SPEC §7).
struct FleetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet",
        abstract: "Ship journals to the fleet store (PostgreSQL), and check it.",
        subcommands: [FleetMigrateCommand.self, FleetShipCommand.self, FleetStatusCommand.self, FleetVerifyCommand.self]
    )
}

struct FleetMigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "migrate", abstract: "Create or upgrade the fleet schema (idempotent).")

    @OptionGroup var fleet: FleetURLOption

    func run() async throws {
        try await FleetSession.with(fleet) { store in
            let applied = try await store.migrate()
            Output.line(applied.isEmpty
                ? "fleet schema is at version \(FleetSchema.currentVersion); nothing to do"
                : "fleet schema migrated to version \(FleetSchema.currentVersion) (applied \(applied.map(String.init).joined(separator: ", ")))")
        }
    }
}

struct FleetShipCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ship",
        abstract: "Ship this data dir's journal to the fleet store (also for a node that is down, from its copied data dir).",
        discussion: "Without --once it keeps following the journal until SIGTERM/SIGINT."
    )

    @OptionGroup var dataDirectory: DataDirectoryOption
    @OptionGroup var fleet: FleetURLOption
    @Option(name: .customLong("node-id"), help: "The node id (env TANDEM_NODE_ID; default the one stored in the data dir).")
    var nodeID: String?
    @Option(help: "Entries per transaction (env TANDEM_FLEET_BATCH, default 2000).") var batch: Int?
    @Flag(help: "Ship up to the current head, then exit.") var once = false

    func run() async throws {
        let batchSize = try batch ?? FleetServeSettings.batchSize()
        let sizes = FleetServeSettings.batchSizes
        guard sizes.contains(batchSize) else { throw ValidationError("--batch must be from \(sizes.lowerBound) to \(sizes.upperBound)") }
        let node = try resolveNode(configured: nodeID ?? Environment.value("TANDEM_NODE_ID"), dataDirectory: dataDirectory.path)
        try await failing {
            let journal = try dataDirectory.openForReading()
            try await FleetSession.with(fleet) { store in
                let logger = FleetSession.cliLogger()
                try await store.migrate()
                let shipper = FleetShipper(
                    journal: journal, store: store, nodeID: node, secretHash: try nodeSecretHash(dataDirectory.path),
                    configuration: .init(batchSize: batchSize, returnsOnDivergence: !once), logger: logger
                )
                if once {
                    let mark = try await shipper.shipToHead()
                    let status = shipper.status.snapshot
                    Output.line("node \(node): shipped through seq \(mark.seq) (\(status.shippedEntries) entries now)")
                    return
                }
                let group = ServiceGroup(configuration: .init(
                    services: [shipper], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger
                ))
                try await group.run()
                let status = shipper.status.snapshot
                Output.line("node \(node): shipped through seq \(status.shippedSeq) (\(status.shippedEntries) entries now)")
                if status.diverged { throw ExitCode.failure }
            }
        }
    }
}

struct FleetStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Nodes, their heads, shipped marks and lag.")

    @OptionGroup var dataDirectory: DataDirectoryOption
    @OptionGroup var fleet: FleetURLOption
    @Flag(help: "Print one JSON object.") var json = false

    func run() async throws {
        let local = try localNode(dataDirectory)
        try await FleetSession.with(fleet) { store in
            let nodes = try await store.nodes()
            if json {
                let object: [String: Any] = [
                    "nodes": nodes.map { node -> [String: Any] in
                        var row: [String: Any] = [
                            "node_id": node.nodeID, "head_seq": node.headSeq, "shipped_seq": node.shippedSeq,
                            "lag_entries": node.headSeq > node.shippedSeq ? node.headSeq - node.shippedSeq : 0,
                            "shipped_hash": node.shippedHash, "updated_at": node.updatedAt,
                            "divergence": node.divergence as Any? ?? NSNull(),
                        ]
                        if let local, local.nodeID == node.nodeID {
                            row["local_head_seq"] = local.head
                            row["local_lag_entries"] = local.head > node.shippedSeq ? local.head - node.shippedSeq : 0
                        }
                        return row
                    },
                ]
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
                Output.line(String(decoding: data, as: UTF8.self))
                return
            }
            Output.line("node_id                           head_seq    shipped_seq  lag       updated_at                   state")
            for node in nodes {
                let head = local?.nodeID == node.nodeID ? max(local!.head, node.headSeq) : node.headSeq
                Output.line([
                    node.nodeID.padding(toLength: 32, withPad: " ", startingAt: 0),
                    String(head).padding(toLength: 10, withPad: " ", startingAt: 0),
                    String(node.shippedSeq).padding(toLength: 11, withPad: " ", startingAt: 0),
                    String(head > node.shippedSeq ? head - node.shippedSeq : 0).padding(toLength: 8, withPad: " ", startingAt: 0),
                    node.updatedAt.padding(toLength: 27, withPad: " ", startingAt: 0),
                    node.divergence.map { "DIVERGED: \($0)" } ?? "ok",
                ].joined(separator: "  "))
            }
        }
    }
}

struct FleetVerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Recompute every node's chain in the fleet store; on a node, compare the local journal with the fleet copy byte for byte.",
        discussion: "Exits non-zero naming node and seq of everything found wrong."
    )

    @OptionGroup var dataDirectory: DataDirectoryOption
    @OptionGroup var fleet: FleetURLOption
    @Option(name: .customLong("node"), help: "Only this node.") var node: String?

    func run() async throws {
        let local = try localNode(dataDirectory)
        try await FleetSession.with(fleet) { store in
            let journal = try local.map { _ in try dataDirectory.openForReading() }
            let reports = try await FleetVerifier(store: store).verify(
                only: node, local: local.flatMap { local in journal.map { (local.nodeID, $0) } }
            )
            var problems = 0
            for report in reports {
                let compared = report.comparedLocally > 0 ? ", \(report.comparedLocally) compared with the local journal" : ""
                Output.line("node \(report.nodeID): \(report.rows) rows, shipped through seq \(report.shippedSeq)\(compared): \(report.problems.isEmpty ? "ok" : "\(report.problems.count) problem(s)")")
                for problem in report.problems.prefix(100) { Output.line("  \(problem)") }
                problems += report.problems.count
            }
            Output.flush()
            if problems > 0 {
                throw CLIError.report(CLIError("\(problems) problem(s) found", code: "fleet_divergence"))
            }
        }
    }
}

/// The node id for shipping this data dir, or a clean failure.
func resolveNode(configured: String?, dataDirectory: String) throws -> String {
    do {
        return try NodeIdentity.resolve(configured: configured, dataDirectory: dataDirectory)
    } catch {
        throw CLIError.report(error)
    }
}

/// The SHA-256 of the data dir's node secret (a copied data dir ships as its node), or a clean failure.
func nodeSecretHash(_ dataDirectory: String) throws -> String {
    do {
        return try NodeIdentity.secretHash(in: dataDirectory)
    } catch {
        throw CLIError.report(error)
    }
}

/// This data dir's node id and journal head, when it is a node's data dir that has shipped under an id.
func localNode(_ dataDirectory: DataDirectoryOption) throws -> (nodeID: String, head: UInt64)? {
    let stored: String?
    do {
        stored = try NodeIdentity.stored(in: dataDirectory.path)
    } catch {
        throw CLIError.report(error)
    }
    guard let stored, FileManager.default.fileExists(atPath: dataDirectory.path + "/journal") else { return nil }
    return try readingLocally { (stored, try dataDirectory.openForReading().head().seq) }
}

/// Runs a synchronous journal read, turning its error into a clean CLI failure.
private func readingLocally<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch {
        throw CLIError.report(error)
    }
}
