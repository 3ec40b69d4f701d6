import Logging
import TandemDomain
import TandemJournal
import TandemProjections
import TandemTestSupport
import Testing

@testable import TandemFleet

/// The run records the shipper carries from batch to batch.
@Suite("Run records of shipped batches")
struct RunRecordsTests {
    /// What a batch's records must be: each touched run folded from its first entry through the
    /// batch's last seq.
    private static func expected(_ batch: [JournalEntry], in runs: [RunID: [JournalEntry]]) -> [String] {
        var seen = Set<RunID>()
        return batch.map(\.runID).filter { seen.insert($0).inserted }.map { run in
            let entries = (runs[run] ?? []).filter { $0.seq <= batch[batch.count - 1].seq }
            return String(decoding: RunRecords.fold(entries).json, as: UTF8.self)
        }
    }

    private static func records(_ folds: inout RunRecords, _ batch: [JournalEntry], in journal: Journal) throws -> [String] {
        try folds.records(touchedBy: batch, in: journal).map(\.json)
    }

    @Test("records folded batch by batch equal each run folded from its start, for any batch size, from any starting seq, after a break in the sequence")
    func carriedRecordsEqualFullFolds() async throws {
        // 40 runs, 16 at a time, their entries interleaved; every scenario of the workload.
        let node = try await TestNode("records", runs: 40)
        let entries = try node.journal.entries(from: 1)
        let runs = Dictionary(grouping: entries, by: \.runID)
        #expect(entries.count > 250)
        for size in [1, 7, 64, entries.count] {
            for start in [0, 5, 101] {
                var folds = RunRecords()
                var index = start
                var batches = 0
                while index < entries.count {
                    let batch = Array(entries[index..<min(entries.count, index + size)])
                    let got = try Self.records(&folds, batch, in: node.journal)
                    #expect(got == Self.expected(batch, in: runs), "batch size \(size), from seq \(batch[0].seq)")
                    batches += 1
                    // Every third batch is read again (a retry from the stored mark), or skipped
                    // back over (a batch read ahead and dropped): the sequence breaks.
                    index += batches % 3 == 0 ? 0 : batch.count
                    if batches % 5 == 0 { index = max(start, index - size / 2) }
                }
            }
        }
    }

    @Test("only runs whose beginning was not folded are read back from the journal")
    func readBackOnlyUnseenRuns() async throws {
        let node = try await TestNode("records-read-back", runs: 40)
        let entries = try node.journal.entries(from: 1)
        var folds = RunRecords()
        for chunk in stride(from: 0, to: entries.count, by: 10) {
            _ = try folds.records(touchedBy: Array(entries[chunk..<min(entries.count, chunk + 10)]), in: node.journal)
        }
        #expect(folds.runsReadBack == 0)
        // A batch that starts over in the middle of the first 16 runs (interleaved): those opened
        // before it are read back, the others are not.
        let restart = 20
        let before = Set(entries[..<restart].map(\.runID))
        let batch = Array(entries[restart...])
        let touchedBefore = Set(batch.map(\.runID)).intersection(before)
        _ = try folds.records(touchedBy: batch, in: node.journal)
        #expect(!touchedBefore.isEmpty)
        #expect(folds.runsReadBack == touchedBefore.count)
        #expect(Set(batch.map(\.runID)).count > touchedBefore.count)
    }

    @Test("only the runs still open are kept for the next batch: a run leaves once it closes")
    func closedRunsAreNotKept() async throws {
        let node = try await TestNode("records-kept", runs: 40)
        let entries = try node.journal.entries(from: 1)
        for end in [entries.count / 3, entries.count / 2, entries.count] {
            var folds = RunRecords()
            for chunk in stride(from: 0, to: end, by: 10) {
                _ = try folds.records(touchedBy: Array(entries[chunk..<min(end, chunk + 10)]), in: node.journal)
            }
            let open = Dictionary(grouping: entries[..<end], by: \.runID).values.filter { !RunRecords.fold($0).isTerminal }
            #expect(folds.keptRuns == open.count, "after seq \(end)")
            if end == entries.count { #expect(open.isEmpty, "every run of the workload closes") } else { #expect(!open.isEmpty) }
        }
    }

    @Test("runs that never close are not kept beyond the bound, and their records stay right")
    func boundedOpenRuns() async throws {
        let node = try await TestNode("records-open", runs: 0)
        // More open runs than kept: each opens and never closes; two of them go on later.
        let count = RunRecords.maxOpenRuns + 1_500
        let started = try Workload.events(forRun: 0)[0]
        _ = try await node.journal.append((0..<count).map { try started.pendingEntry(for: RunID("open-\($0)")!) })
        for run in [0, count - 1] {
            _ = try await node.journal.append([try Workload.events(forRun: 0)[1].pendingEntry(for: RunID("open-\(run)")!)])
        }
        let entries = try node.journal.entries(from: 1)
        let runs = Dictionary(grouping: entries, by: \.runID)
        var folds = RunRecords()
        for chunk in stride(from: 0, to: entries.count, by: 1_000) {
            let batch = Array(entries[chunk..<min(entries.count, chunk + 1_000)])
            #expect(try Self.records(&folds, batch, in: node.journal) == Self.expected(batch, in: runs))
        }
        // The kept records were dropped at the bound, so the first run, which went on in the last
        // batch, was read back; the last run opened in that batch itself.
        #expect(folds.runsReadBack == 1)
    }

    @Test("a run id used again (a second run_started) is folded from its first use, whether the run index covers the first use or not yet")
    func reusedRunID() async throws {
        for indexed in [false, true] {
            let directory = try TemporaryDirectory(prefix: "tandem-records-reuse")
            func open() throws -> Journal {
                try Journal(JournalConfiguration(directory: directory.path, durability: .async, indexInterval: .seconds(3_600)), logger: Logger(label: "test"))
            }
            var journal = try open()
            let events = Workload.events(forRun: 0)
            let reused = RunID("reused")!
            // The run's first use, whole, and other runs around it.
            try await Workload.append(runs: 3, to: journal, concurrent: 3)
            _ = try await journal.append(events.map { try $0.pendingEntry(for: reused) })
            if indexed {
                journal.close()  // the index catches up at close: the first use is indexed
                journal = try open()
            }
            let reopenedAt = try journal.head().seq
            // The second use, interleaved with another run.
            try await Workload.append(runs: 1, to: journal, firstRun: 7)
            _ = try await journal.append(events.map { try $0.pendingEntry(for: reused) })
            let entries = try journal.entries(from: 1)
            let runs = Dictionary(grouping: entries, by: \.runID)
            // From a fresh fold (a restarted shipper) at the second use, and carried across it.
            for start in [Int(reopenedAt), 0] {
                var folds = RunRecords()
                for chunk in stride(from: start, to: entries.count, by: 5) {
                    let batch = Array(entries[chunk..<min(entries.count, chunk + 5)])
                    #expect(try Self.records(&folds, batch, in: journal) == Self.expected(batch, in: runs), "indexed: \(indexed), from \(start)")
                }
            }
            journal.close()
        }
    }
}
