import Foundation
import Logging
import TandemDomain
import TandemTestSupport
import Testing

@testable import TandemJournal

@Suite("Journal reads")
struct JournalReadTests {
    @Test("Range reads, limits and scans across chunk boundaries")
    func ranges() async throws {
        let directory = try TemporaryDirectory()
        let journal = try makeJournal(directory)
        _ = try await journal.append((0..<100).map { try abortedEntry("r\($0 % 3)") })
        #expect(try journal.entries(from: 10, through: 19).map(\.seq) == Array(10...19))
        #expect(try journal.entries(from: 95).map(\.seq) == Array(95...100))
        #expect(try journal.entries(from: 1, limit: 5).count == 5)
        var seen: [UInt64] = []
        try journal.scan(from: 3, through: 50, chunkSize: 7) { seq, _ in
            seen.append(seq)
            return true
        }
        #expect(seen == Array(3...50))
        #expect(try journal.seqs(of: RunID("r1")!) == stride(from: 2, through: 100, by: 3).map { UInt64($0) })
        #expect(try journal.entries(of: RunID("unknown")!).isEmpty)
        #expect(try journal.entry(101) == nil)
    }

    @Test("Run shards split the entries: each exactly once, all of a run in one shard", arguments: [1, 2, 3, 7])
    func shards(count: Int) async throws {
        let directory = try TemporaryDirectory()
        let journal = try makeJournal(directory)
        _ = try await journal.append((0..<300).map { try abortedEntry("run-\($0 % 41)") })
        var owner: [String: Int] = [:]
        var seen: [UInt64] = []
        for shard in RunShard.split(into: count) {
            try journal.scanEntries(from: 1, in: shard) { entry in
                seen.append(entry.seq)
                #expect(owner[entry.runID.rawValue, default: shard.index] == shard.index, "run \(entry.runID) in two shards")
                owner[entry.runID.rawValue] = shard.index
                #expect(shard.contains(entry.runID))
                return true
            }
        }
        #expect(seen.sorted() == Array(1...300))
        #expect(owner.count == 41)
        if count > 1 { #expect(Set(owner.values).count > 1, "runs spread over the shards") }
    }

    @Test("A malformed line fails a sharded scan in the shard its bytes fall in, whatever they are")
    func shardedScanOfMalformedLine() async throws {
        let directory = try TemporaryDirectory()
        let journal = try makeJournal(directory)
        _ = try await journal.append((0..<20).map { try abortedEntry("run-\($0)") })
        journal.close()
        for bad in [Array("not json".utf8), Array(#"{"seq":3,"ts":"2026-11-28T08:05:30.123456Z","run_id":"run-2","type":"x"}"#.utf8)] {
            try RawLMDB.withEnvironment(directory.path) { try $0.replace(3, with: bad) }
            let reader = try Journal(JournalConfiguration(directory: directory.path, readOnly: true), logger: Logger(label: "test"))
            var failures = 0
            for shard in RunShard.split(into: 3) {
                do {
                    try reader.scanEntries(from: 1, in: shard) { _ in true }
                } catch let error as JournalError {
                    #expect(error.code == .invalidEntry)
                    failures += 1
                }
            }
            #expect(failures >= 1, "no shard may skip a malformed line unnoticed")
        }
    }

    @Test("follow yields stored entries, then live appends without polling", .timeLimit(.minutes(1)))
    func follow() async throws {
        let directory = try TemporaryDirectory()
        let journal = try makeJournal(directory)
        _ = try await journal.append((0..<3).map { _ in try abortedEntry("f") })
        let follower = Task {
            var seqs: [UInt64] = []
            // A poll interval of an hour: only the in-process signal can wake the follower in time.
            for try await entry in journal.follow(from: 2, pollInterval: .seconds(3_600)) {
                seqs.append(entry.seq)
                if seqs.count == 4 { break }
            }
            return seqs
        }
        // Appends only once the follower is parked: landing before it parks, they would be read
        // without any wake-up, and the test could pass with wake-ups broken.
        while journal.signal.waiterCount == 0 { await Task.yield() }
        _ = try await journal.append(abortedEntry("f"))
        while journal.signal.waiterCount == 0 { await Task.yield() }
        _ = try await journal.append(abortedEntry("f"))
        #expect(try await follower.value == [2, 3, 4, 5])
    }

    @Test("A second process reads and verifies while this one appends", .timeLimit(.minutes(2)))
    func crossProcessReads() async throws {
        let directory = try TemporaryDirectory()
        let journal = try makeJournal(directory)
        _ = try await journal.append(abortedEntry("x"))
        let appender = Task {
            for round in 0..<400 {
                _ = try await journal.append((0..<25).map { _ in try abortedEntry("w\(round % 8)") })
            }
        }
        var heads: [UInt64] = []
        for _ in 0..<5 {
            let result = try await TandemExecutable.run(["journal", "verify", "--data-dir", directory.path])
            #expect(result.status == 0, "verify failed while appending: \(result.stderr)")
            let words = result.stdout.split(separator: " ")
            if let index = words.firstIndex(of: "seq"), let head = UInt64(words[index + 1].trimmingCharacters(in: .punctuationCharacters)) {
                heads.append(head)
            }
        }
        try await appender.value
        #expect(heads.count == 5)
        #expect(heads == heads.sorted())
        let replay = try await TandemExecutable.run(["journal", "replay", "--data-dir", directory.path])
        #expect(replay.status == 0)
        #expect(replay.stdout.split(separator: "\n").count == 10_001)
    }

    @Test("Stats count entries and bytes")
    func stats() async throws {
        let directory = try TemporaryDirectory()
        let journal = try makeJournal(directory)
        let committed = try await journal.append((0..<10).map { _ in try abortedEntry("s") })
        let stats = try journal.stats()
        #expect(stats.entries == 10)
        #expect(stats.lineBytes == UInt64(committed.reduce(0) { $0 + $1.line.count }))
        #expect(stats.head.seq == 10)
        #expect(stats.firstTimestamp == committed.first?.timestamp)
        #expect(stats.lastTimestamp == committed.last?.timestamp)
    }
}
