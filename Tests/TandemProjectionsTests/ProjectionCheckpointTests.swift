import Foundation
import Logging
import TandemDomain
import TandemJournal
import TandemTestSupport
import Testing

@testable import TandemProjections

/// After a power loss with `async` durability (or a journal restored from a backup) the projection
/// can be ahead of the journal: its checkpoint past the head, or at a seq whose entry is another
/// one now. Before the fix, start-up caught up "from the checkpoint" and kept records and counts
/// of entries the journal no longer has. Start-up now checks the checkpoint against the journal
/// (seq ≤ head, and the stored hash of the entry at that seq) and rebuilds when they disagree.
@Suite("Projection checkpoint checked against the journal at start-up", .serialized)
struct ProjectionCheckpointTests {
    private let logger = Logger(label: "test")

    private func openJournal(_ directory: TemporaryDirectory) throws -> Journal {
        try Journal(JournalConfiguration(directory: directory.path), logger: logger)
    }

    /// Appends runs `first..<first + count` (ids `<prefix>-<n>`), one run after the other.
    private func append(_ journal: Journal, prefix: String, runs: Range<Int>) async throws {
        for run in runs { _ = try await journal.append(Workload.events(forRun: run % 8), for: RunID("\(prefix)-\(run)")!) }
    }

    /// Copies the journal aside, lets `later` add to it and projects the result, then puts the
    /// copy back: the projection is now of a journal that is not there any more.
    private func projectThenRestore(
        _ directory: TemporaryDirectory, later: (Journal) async throws -> Void
    ) async throws -> (projected: UInt64, restored: UInt64) {
        let journalPath = directory.path + "/journal"
        let backup = directory.path + "/journal-backup"
        let restored: UInt64
        do {
            let journal = try openJournal(directory)
            try await append(journal, prefix: "kept", runs: 0..<4)
            restored = try journal.head().seq
            journal.close()
        }
        try FileManager.default.copyItem(atPath: journalPath, toPath: backup)
        let projected: UInt64
        do {
            let journal = try openJournal(directory)
            try await later(journal)
            let projector = Projector(journal: journal, dataDirectory: directory.path, logger: logger)
            try projector.prepare()
            projected = try #require(projector.store).checkpoint()
            journal.close()
        }
        try FileManager.default.removeItem(atPath: journalPath)
        try FileManager.default.moveItem(atPath: backup, toPath: journalPath)
        return (projected, restored)
    }

    @Test("A checkpoint past the journal's head: start-up rebuilds, the lost runs are gone")
    func checkpointBeyondHead() async throws {
        let directory = try TemporaryDirectory()
        let (projected, restored) = try await projectThenRestore(directory) { journal in
            try await append(journal, prefix: "lost", runs: 4..<8)
        }
        #expect(projected > restored)

        let journal = try openJournal(directory)
        let projector = Projector(journal: journal, dataDirectory: directory.path, logger: logger)
        try projector.prepare()
        let store = try #require(projector.store)
        #expect(try store.checkpoint() == restored)
        #expect(try store.record("lost-5") == nil)
        #expect(try store.record("kept-1") != nil)
        #expect(try store.metrics().runs.values.reduce(0, +) == 4)
    }

    @Test("A checkpoint at the head whose entry differs (same seq, other hash): start-up rebuilds")
    func checkpointHashDiffers() async throws {
        let directory = try TemporaryDirectory()
        let (projected, _) = try await projectThenRestore(directory) { journal in
            try await append(journal, prefix: "lost", runs: 4..<6)
        }

        let journal = try openJournal(directory)
        try await append(journal, prefix: "other", runs: 4..<6)
        #expect(try journal.head().seq == projected, "the same seqs, holding other entries")
        let projector = Projector(journal: journal, dataDirectory: directory.path, logger: logger)
        try projector.prepare()
        let store = try #require(projector.store)
        #expect(try store.checkpoint() == projected)
        #expect(try store.record("lost-4") == nil)
        #expect(try store.record("other-4") != nil)
        #expect(try store.metrics().runs.values.reduce(0, +) == 6)
    }

    @Test("A checkpoint that agrees with the journal is kept: start-up only catches up")
    func checkpointAgrees() async throws {
        let directory = try TemporaryDirectory()
        let journal = try openJournal(directory)
        try await append(journal, prefix: "a", runs: 0..<3)
        let name: String
        do {
            let first = Projector(journal: journal, dataDirectory: directory.path, logger: logger)
            try first.prepare()
            name = try #require(first.store).name
        }
        try await append(journal, prefix: "b", runs: 3..<5)
        let second = Projector(journal: journal, dataDirectory: directory.path, logger: logger)
        try second.prepare()
        #expect(try #require(second.store).name == name, "the same store, caught up, not rebuilt")
        #expect(try #require(second.store).checkpoint() == journal.head().seq)
    }
}
