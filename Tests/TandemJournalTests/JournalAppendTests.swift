import Logging
import TandemDomain
import TandemTestSupport
import Testing

@testable import TandemJournal

/// Opens a journal in a fresh temp directory.
func makeJournal(
    _ directory: TemporaryDirectory,
    configure: (inout JournalConfiguration) -> Void = { _ in }
) throws -> Journal {
    var configuration = JournalConfiguration(directory: directory.path)
    configure(&configuration)
    return try Journal(configuration, logger: Logger(label: "test"))
}

func abortedEntry(_ run: String, reason: String = "test") throws -> PendingEntry {
    try DomainEvent.runAborted(RunAborted(reason: reason)).pendingEntry(for: RunID(run)!)
}

@Suite("Journal appends")
struct JournalAppendTests {
    @Test("64 concurrent appenders x 1,000 events: seqs 1...64,000 exactly once, each caller its own")
    func concurrentAppends() async throws {
        let directory = try TemporaryDirectory()
        let journal = try makeJournal(directory)
        let tasks = 64
        let perTask = 1_000
        let perCaller: [[UInt64]] = try await withThrowingTaskGroup(of: [UInt64].self) { group in
            for task in 0..<tasks {
                group.addTask {
                    let entry = try abortedEntry("run-\(task)", reason: "caller \(task)")
                    var seqs: [UInt64] = []
                    for _ in 0..<perTask {
                        let committed = try await journal.append(entry)
                        #expect(committed.runID.rawValue == "run-\(task)")
                        seqs.append(committed.seq)
                    }
                    return seqs
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let all = perCaller.flatMap { $0 }.sorted()
        #expect(all == Array(1...UInt64(tasks * perTask)))
        for seqs in perCaller {
            #expect(seqs == seqs.sorted())
        }
        // Each caller's seqs are exactly the run index of its run, and the stored lines are its own.
        for task in [0, 31, 63] {
            let run = RunID("run-\(task)")!
            let indexed = try journal.seqs(of: run)
            #expect(indexed == perCaller.first { try! journal.entry($0[0])!.runID == run }!)
            let entries = try journal.entries(of: run)
            #expect(entries.allSatisfy { String(decoding: $0.data, as: UTF8.self) == #"{"reason":"caller \#(task)"}"# })
        }
        let report = try journal.verify()
        #expect(report.isValid)
        #expect(report.entriesChecked == UInt64(tasks * perTask))
        #expect(report.head.seq == UInt64(tasks * perTask))
    }

    @Test("A multi-entry append is contiguous and keeps its order")
    func batchIsContiguous() async throws {
        let directory = try TemporaryDirectory()
        let journal = try makeJournal(directory)
        let batch = try (0..<10).map { try abortedEntry("batch", reason: "\($0)") }
        async let noise: Void = {
            for _ in 0..<50 { _ = try await journal.append(abortedEntry("noise")) }
        }()
        let committed = try await journal.append(batch)
        try await noise
        let first = committed[0].seq
        #expect(committed.map(\.seq) == Array(first..<(first + 10)))
        #expect(committed.map { String(decoding: $0.data, as: UTF8.self) } == (0..<10).map { #"{"reason":"\#($0)"}"# })
    }

    @Test("Lines are canonical and chained: prev is the SHA-256 of the previous line")
    func canonicalChain() async throws {
        let directory = try TemporaryDirectory()
        let fixed: Int64 = 1_795_853_130_123_456  // 2026-11-28T08:05:30.123456Z
        let journal = try makeJournal(directory) { $0.clock = JournalClock { fixed } }
        let first = try await journal.append(abortedEntry("r1", reason: "a"))
        let second = try await journal.append(abortedEntry("r1", reason: "b"))
        #expect(
            first.text
                == #"{"seq":1,"ts":"2026-11-28T08:05:30.123456Z","run_id":"r1","type":"run_aborted","data":{"reason":"a"},"prev":"\#(String(repeating: "0", count: 64))"}"#
        )
        #expect(second.prev == first.hash)
        #expect(try JournalEntry(line: second.line) == second)
        #expect(try journal.head() == JournalHead(seq: 2, hash: Array(second.hash.utf8)))
        // The fields as bytes are the fields as text, and the chain links first to second only.
        second.withFieldBytes { fields in
            #expect(Array(fields.line) == second.line)
            #expect(String(decoding: fields.timestamp, as: UTF8.self) == second.timestamp)
            #expect(String(decoding: fields.runID, as: UTF8.self) == second.runID.rawValue)
            #expect(String(decoding: fields.type, as: UTF8.self) == second.type)
            #expect(Array(fields.data) == Array(second.data))
            #expect(String(decoding: fields.prev, as: UTF8.self) == second.prev)
        }
        // The one chain walk: from the start through both, and never backwards.
        var chain = ChainWalk()
        let linked = (chain.step(first), chain.step(second))
        #expect(linked == (true, true))
        #expect(chain.ends(at: try journal.head().hash))
        var backwards = ChainWalk(after: second)
        let backwardsLinked = backwards.step(first)
        #expect(!backwardsLinked)
        // A hash from outside that is not 64 digits (a damaged stored mark) breaks the link, never the walk.
        var damaged = ChainWalk(afterHash: Array("abc".utf8))
        let damagedLinks = (damaged.step(first), damaged.step(second))
        #expect(damagedLinks == (false, true))
    }

    @Test("Open runs: opened by the first entry, closed by the last")
    func openRuns() async throws {
        let directory = try TemporaryDirectory()
        let journal = try makeJournal(directory)
        let a = RunID("a")!
        let b = RunID("b")!
        let started = try PendingEntry(runID: a, type: "run_started", data: Array("{}".utf8), lifecycle: .opensRun)
        _ = try await journal.append(started)
        _ = try await journal.append(PendingEntry(runID: b, type: "run_started", data: Array("{}".utf8), lifecycle: .opensRun))
        _ = try await journal.append(PendingEntry(runID: a, type: "done", data: Array("{}".utf8), lifecycle: .closesRun))
        let open = try journal.openRuns()
        #expect(open.map(\.run) == [b])
        #expect(open.map(\.openedAt) == [2])
    }

    @Test("Run reads are complete before the run index catches up, and the index catches up at close")
    func runIndexTail() async throws {
        let directory = try TemporaryDirectory()
        let journal = try makeJournal(directory) { $0.indexInterval = .seconds(3_600) }
        let a = RunID("tail-a")!
        let b = RunID("tail-b")!
        _ = try await journal.append(PendingEntry(runID: a, type: "run_started", data: Array("{}".utf8), lifecycle: .opensRun))
        _ = try await journal.append(PendingEntry(runID: b, type: "run_started", data: Array("{}".utf8), lifecycle: .opensRun))
        _ = try await journal.append(PendingEntry(runID: a, type: "step", data: Array("{}".utf8)))
        _ = try await journal.append(PendingEntry(runID: b, type: "done", data: Array("{}".utf8), lifecycle: .closesRun))
        #expect(try journal.indexedThrough < 4)
        #expect(try journal.seqs(of: a) == [1, 3])
        #expect(try journal.seqs(of: b) == [2, 4])
        #expect(try journal.openRuns().map(\.run) == [a])
        journal.close()
        let reopened = try makeJournal(directory) { $0.readOnly = true }
        #expect(try reopened.indexedThrough == 4)
        #expect(try reopened.seqs(of: a) == [1, 3])
        #expect(try reopened.openRuns().map(\.run) == [a])
    }

    @Test("Reading several runs at once, up to a seq, equals reading each run: indexed entries and the tail past the index")
    func severalRunsAtOnce() async throws {
        let directory = try TemporaryDirectory()
        var journal = try makeJournal(directory) { $0.indexInterval = .seconds(3_600) }
        _ = try await journal.append((0..<60).map { try abortedEntry("run-\($0 % 7)") })
        journal.close()  // the index catches up at close: seqs 1-60 are indexed, later ones are not
        journal = try makeJournal(directory) { $0.indexInterval = .seconds(3_600) }
        _ = try await journal.append((0..<60).map { try abortedEntry("run-\($0 % 5)") })
        #expect(try journal.indexedThrough == 60)
        let runs = Set(["run-0", "run-3", "run-6", "unknown"].map { RunID($0)! })
        for through: UInt64 in [1, 30, 60, 61, 95, 120, .max] {
            let together = try journal.entries(of: runs, through: through)
            for run in runs {
                let alone = try journal.entries(of: run).filter { $0.seq <= through }
                #expect(together[run] ?? [] == alone, "\(run) through \(through)")
            }
            #expect(together[RunID("unknown")!] == nil)
        }
    }

    @Test("Invalid entries are refused before they reach the journal")
    func invalidEntries() throws {
        let run = RunID("r")!
        #expect(throws: JournalError.self) { try PendingEntry(runID: run, type: "Bad-Type", data: Array("{}".utf8)) }
        #expect(throws: JournalError.self) { try PendingEntry(runID: run, type: "ok", data: Array("[1]".utf8)) }
        #expect(throws: JournalError.self) { try PendingEntry(runID: run, type: "ok", data: Array("{\"a\":\n1}".utf8)) }
        #expect(RunID("") == nil)
        #expect(RunID(String(repeating: "a", count: 65)) == nil)
        #expect(RunID("a b") == nil)
        #expect(RunID("A-z_09") != nil)
    }

    @Test("async durability acknowledges appends and syncs them in the background")
    func asyncDurability() async throws {
        let directory = try TemporaryDirectory()
        let journal = try makeJournal(directory) {
            $0.durability = .async
            $0.syncInterval = .milliseconds(5)
        }
        for i in 0..<100 { _ = try await journal.append(abortedEntry("async", reason: "\(i)")) }
        journal.close()
        let reopened = try makeJournal(directory)
        #expect(try reopened.head().seq == 100)
        #expect(try reopened.verify().isValid)
    }

    @Test("Appending after close fails with .closed")
    func appendAfterClose() async throws {
        let directory = try TemporaryDirectory()
        let journal = try makeJournal(directory)
        journal.close()
        await #expect(throws: JournalError.self) { _ = try await journal.append(abortedEntry("late")) }
    }

    @Test("Timestamps: UTC, microseconds, 27 characters")
    func timestamps() {
        #expect(String(decoding: JournalClock.timestamp(microseconds: 0), as: UTF8.self) == "1970-01-01T00:00:00.000000Z")
        #expect(String(decoding: JournalClock.timestamp(microseconds: 1_795_853_130_123_456), as: UTF8.self) == "2026-11-28T08:05:30.123456Z")
        #expect(String(decoding: JournalClock.timestamp(microseconds: 951_782_400_000_001), as: UTF8.self) == "2000-02-29T00:00:00.000001Z")
    }
}
