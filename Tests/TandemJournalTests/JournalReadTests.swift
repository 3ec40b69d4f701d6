import Foundation
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
        _ = try await journal.append(abortedEntry("f"))
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
            let result = try TandemExecutable.run(["journal", "verify", "--data-dir", directory.path])
            #expect(result.status == 0, "verify failed while appending: \(result.stderr)")
            let words = result.stdout.split(separator: " ")
            if let index = words.firstIndex(of: "seq"), let head = UInt64(words[index + 1].trimmingCharacters(in: .punctuationCharacters)) {
                heads.append(head)
            }
        }
        try await appender.value
        #expect(heads.count == 5)
        #expect(heads == heads.sorted())
        let replay = try TandemExecutable.run(["journal", "replay", "--data-dir", directory.path])
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
