import Crypto
import Foundation
import Logging
import TandemDomain
import TandemJournal
import TandemTestSupport
import Testing

@testable import TandemProjections

/// A data directory written by an earlier build (the journal and its projection store, committed
/// under `Tests/Fixtures/format-compat/`) must read, verify, replay and rebuild to exactly what
/// that build recorded in `expected.json`: refactoring the storage layer may not change a byte
/// clients or auditors see.
///
/// The fixture is written by `writeFixture` below, run with the build whose format it pins
/// (`TANDEM_WRITE_FORMAT_FIXTURE=<dir> swift test --filter FormatCompatibility`); rewrite it only
/// when the formats change on purpose (and then bump their version markers).
@Suite("Format compatibility with an earlier build")
struct FormatCompatibilityTests {
    /// What the earlier build recorded about its data directory.
    struct Expected: Codable, Equatable {
        /// The journal: its head, and a SHA-256 (hex) of every line, each followed by `\n`
        /// (what `journal replay` prints).
        struct JournalFacts: Codable, Equatable {
            var headSeq: UInt64, headHash: String
            var replaySHA256: String
            var openRuns: [String]
        }
        /// The projection store's digest and checkpoint.
        struct ProjectionFacts: Codable, Equatable {
            var digest: String, checkpoint: UInt64
        }
        /// One run: its seqs from the run index, its stored record JSON byte for byte.
        struct SampleRun: Codable, Equatable {
            var runID: String, seqs: [UInt64], record: String
        }
        var journal: JournalFacts
        var projections: ProjectionFacts
        var sampleRun: SampleRun
    }

    private static let fixture = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/format-compat").path

    private static let sampleRun = "run-13"

    /// Copies the fixture's data directory (LMDB opens it for writing: its lock file).
    private func copyOfFixture() throws -> TemporaryDirectory {
        let directory = try TemporaryDirectory(prefix: "tandem-format")
        try FileManager.default.removeItem(atPath: directory.path)
        try FileManager.default.copyItem(atPath: Self.fixture + "/data", toPath: directory.path)
        return directory
    }

    private static func observe(dataDirectory: String, journal: Journal, store: ProjectionStore) throws -> Expected {
        var hasher = SHA256()
        var headHash = ""
        for entry in try journal.entries(from: 1) {
            hasher.update(data: entry.line + [UInt8(ascii: "\n")])
            headHash = entry.hash
        }
        let (checkpoint, digest) = try store.digest()
        return Expected(
            journal: .init(
                headSeq: try journal.head().seq, headHash: headHash,
                replaySHA256: hasher.finalize().map { String(format: "%02x", $0) }.joined(),
                openRuns: try journal.openRuns().map(\.run.rawValue).sorted()
            ),
            projections: .init(digest: digest, checkpoint: checkpoint),
            sampleRun: .init(
                runID: sampleRun, seqs: try journal.seqs(of: RunID(sampleRun)!),
                record: String(decoding: try store.recordJSON(sampleRun) ?? [], as: UTF8.self)
            )
        )
    }

    private func expected() throws -> Expected {
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.fixture + "/expected.json"))
        return try JSONDecoder().decode(Expected.self, from: data)
    }

    @Test("The earlier build's journal verifies and replays byte for byte; its projection store reads the same")
    func readsEarlierData() throws {
        let expected = try expected()
        let directory = try copyOfFixture()
        let journal = try Journal(JournalConfiguration(directory: directory.path), logger: Logger(label: "test"))
        defer { journal.close() }
        let report = try journal.verify()
        #expect(report.isValid, "\(String(describing: report.problem))")
        #expect(report.entriesChecked == expected.journal.headSeq)
        let location = ProjectionLocation(dataDirectory: directory.path)
        let name = try #require(location.currentName())
        let store = try ProjectionStore(directory: location.path(of: name), name: name, readOnly: true)
        #expect(try Self.observe(dataDirectory: directory.path, journal: journal, store: store) == expected)
    }

    @Test("Rebuilding the earlier build's journal gives the digest that build recorded; appending continues its chain")
    func rebuildsEarlierJournal() async throws {
        let expected = try expected()
        let directory = try copyOfFixture()
        let journal = try Journal(JournalConfiguration(directory: directory.path), logger: Logger(label: "test"))
        defer { journal.close() }
        let location = ProjectionLocation(dataDirectory: directory.path)
        for shards in [1, 3] {
            let rebuilt = try ProjectionRebuild.rebuild(journal: journal, location: location, name: "rebuilt-\(shards)", shards: shards)
            #expect(try Self.observe(dataDirectory: directory.path, journal: journal, store: rebuilt.store) == expected)
        }
        // New entries chain onto the earlier build's head.
        try await Workload.append(runs: 16, to: journal, firstRun: 10_000)
        let first = try #require(try journal.entry(expected.journal.headSeq + 1))
        #expect(first.prev == expected.journal.headHash)
        #expect(try journal.verify().isValid)
    }

    /// Writes the fixture with the build under test. Not a check: it runs only when asked.
    @Test(
        "Write the fixture (only with TANDEM_WRITE_FORMAT_FIXTURE=<dir>)",
        .enabled(if: ProcessInfo.processInfo.environment["TANDEM_WRITE_FORMAT_FIXTURE"] != nil)
    )
    func writeFixture() async throws {
        let target = try #require(ProcessInfo.processInfo.environment["TANDEM_WRITE_FORMAT_FIXTURE"])
        let data = target + "/data"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        let journal = try Journal(JournalConfiguration(directory: data), logger: Logger(label: "fixture"))
        // Every outcome kind (Workload cycles through eight), interleaved, some runs left open.
        try await Workload.append(runs: 40, to: journal, concurrent: 6, contentBytes: 120)
        let open = Workload.events(forRun: 40, contentBytes: 120).prefix(3)
        _ = try await journal.append(try open.map { try $0.pendingEntry(for: RunID("run-40")!) })
        let location = ProjectionLocation(dataDirectory: data)
        let store = try ProjectionStore(directory: location.path(of: "store-fixture"), name: "store-fixture", readOnly: false)
        var folder = try ProjectionFolder(store: store)
        for entry in try journal.entries(from: 1) {
            try folder.apply(entry, store: store)
            if entry.seq % 97 == 0 { try folder.flush(to: store, wholeMetrics: entry.seq % 2 == 0) }
        }
        try folder.flush(to: store, wholeMetrics: false)
        try location.publish("store-fixture")
        let expected = try Self.observe(dataDirectory: data, journal: journal, store: store)
        journal.close()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(expected).write(to: URL(fileURLWithPath: target + "/expected.json"))
    }
}
