import Foundation
import TandemDomain
import TandemTestSupport
import Testing

@testable import TandemJournal

@Suite("Journal integrity")
struct JournalIntegrityTests {
    /// A journal of `count` entries, closed, ready to be tampered with.
    private func filledJournal(_ count: Int) async throws -> TemporaryDirectory {
        let directory = try TemporaryDirectory()
        let journal = try makeJournal(directory)
        _ = try await journal.append((0..<count).map { try abortedEntry("t\($0 % 4)", reason: "entry \($0)") })
        journal.close()
        return directory
    }

    private func verify(_ directory: TemporaryDirectory) throws -> VerificationReport {
        try makeJournal(directory) { $0.readOnly = true }.verify()
    }

    /// `line` with one byte of its payload changed (the `y` of "entry N" in its reason), so that it
    /// is still a canonical entry whose bytes no longer hash to the next entry's `prev`.
    private func withAlteredContent(_ line: [UInt8], to replacement: UInt8 = UInt8(ascii: "Y")) throws -> [UInt8] {
        let word = Array("entry ".utf8)
        let start = try #require(stride(from: 0, through: line.count - word.count, by: 1).first { line[$0..<($0 + word.count)].elementsEqual(word) })
        var altered = line
        altered[start + 4] = replacement
        return altered
    }

    @Test("Changing one byte of an entry's content names that seq", arguments: [1, 7, 19, 20])
    func alteredContent(seq: UInt64) async throws {
        let directory = try await filledJournal(20)
        try RawLMDB.withEnvironment(directory.path) { raw in
            try raw.replace(seq, with: try withAlteredContent(try #require(try raw.line(seq))))
        }
        let problem = try #require(try verify(directory).problem)
        #expect(problem.seq == seq)
        #expect(problem.reason.hasPrefix("entry altered"), "\(problem)")
    }

    @Test("Changing one hex digit of an entry's prev names that seq", arguments: [2, 10, 20])
    func alteredPrev(seq: UInt64) async throws {
        let directory = try await filledJournal(20)
        try RawLMDB.withEnvironment(directory.path) { raw in
            var line = try #require(try raw.line(seq))
            let index = line.count - 10
            line[index] = line[index] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
            try raw.replace(seq, with: line)
        }
        let problem = try #require(try verify(directory).problem)
        #expect(problem.seq == seq)
    }

    @Test("Deleting an entry names the missing seq", arguments: [1, 9, 20])
    func deletedEntry(seq: UInt64) async throws {
        let directory = try await filledJournal(20)
        try RawLMDB.withEnvironment(directory.path) { try $0.delete(seq) }
        let problem = try #require(try verify(directory).problem)
        #expect(problem.seq == seq)
    }

    @Test("A journal verified in segments: the altered entry is named on either side of every seam, and an intact one counts every entry once")
    func segmentSeams() async throws {
        let count = 70_000
        let directory = try TemporaryDirectory()
        let journal = try makeJournal(directory) { $0.durability = .async }
        for start in stride(from: 0, to: count, by: 4_000) {
            _ = try await journal.append((start..<min(start + 4_000, count)).map { try abortedEntry("t\($0 % 4)", reason: "entry \($0)") })
        }
        journal.close()
        let segments = Journal.verifySegments(end: UInt64(count), cores: ProcessInfo.processInfo.activeProcessorCount)
        #expect(segments.count > 1)
        #expect(segments.first?.first == 1 && segments.last?.last == UInt64(count))
        #expect(zip(segments, segments.dropFirst()).allSatisfy { $0.last + 1 == $1.first })
        let intact = try verify(directory)
        #expect(intact.isValid && intact.entriesChecked == UInt64(count))

        let seams = segments.dropFirst().flatMap { [$0.first - 1, $0.first] }
        for seq in [1] + seams + [UInt64(count)] {
            let original = try RawLMDB.withEnvironment(directory.path) { try #require(try $0.line(seq)) }
            // Content: a byte of the payload (the line stays canonical).
            let content = try withAlteredContent(original)
            // Prev: one hex digit of it.
            var prev = original
            prev[prev.count - 10] = prev[prev.count - 10] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
            for altered in [content, prev] {
                try RawLMDB.withEnvironment(directory.path) { try $0.replace(seq, with: altered) }
                let problem = try verify(directory).problem
                #expect(problem?.seq == seq, "seq \(seq): \(String(describing: problem))")
                #expect(problem?.reason.hasPrefix("entry altered") == true, "seq \(seq): \(String(describing: problem))")
            }
            try RawLMDB.withEnvironment(directory.path) { try $0.replace(seq, with: original) }
        }
        #expect(try verify(directory).isValid)
    }

    @Test("Malformed line is reported at its seq")
    func malformedLine() async throws {
        let directory = try await filledJournal(5)
        try RawLMDB.withEnvironment(directory.path) { try $0.replace(3, with: Array("not json".utf8)) }
        let problem = try #require(try verify(directory).problem)
        #expect(problem.seq == 3)
        #expect(throws: JournalError.self) { try JournalEntry(line: Array("not json".utf8)) }
    }

    @Test("`tandem journal verify` exits 1 naming the first bad seq")
    func verifyCommand() async throws {
        let directory = try await filledJournal(12)
        let good = try await TandemExecutable.run(["journal", "verify", "--data-dir", directory.path])
        #expect(good.status == 0)
        #expect(good.stdout.contains("12 entries"))
        try RawLMDB.withEnvironment(directory.path) { raw in
            try raw.replace(6, with: try withAlteredContent(try #require(try raw.line(6)), to: UInt8(ascii: "z")))
        }
        let bad = try await TandemExecutable.run(["journal", "verify", "--data-dir", directory.path])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("first bad seq: 6"))
    }

    @Test("`tandem journal verify --payloads` names the first entry whose payload is not its type's")
    func verifyPayloads() async throws {
        let directory = try TemporaryDirectory()
        let journal = try makeJournal(directory)
        _ = try await journal.append((0..<5).map { try abortedEntry("p\($0)") })
        // Chained and canonical, but not a `flash_started` payload (and one that is not JSON).
        _ = try await journal.append(try PendingEntry(runID: RunID("p9")!, type: "flash_started", data: Array(#"{"nope":1}"#.utf8)))
        _ = try await journal.append(try PendingEntry(runID: RunID("p9")!, type: "done", data: Array(#"{"status":"ok","duration_ms":1,}"#.utf8)))
        journal.close()
        let chain = try await TandemExecutable.run(["journal", "verify", "--data-dir", directory.path])
        #expect(chain.status == 0, "the chain itself is intact")
        let full = try await TandemExecutable.run(["journal", "verify", "--payloads", "--data-dir", directory.path])
        #expect(full.status == 1)
        #expect(full.stderr.contains("first bad seq: 6"))
        #expect(full.stderr.contains("flash_started"))
        let good = try await filledJournal(8)
        let fine = try await TandemExecutable.run(["journal", "verify", "--payloads", "--data-dir", good.path])
        #expect(fine.status == 0)
        #expect(fine.stdout.contains("payloads ok: 8 entries"))
    }

    @Test("A journal of another format version is refused with a clear message")
    func formatMismatch() async throws {
        let directory = try await filledJournal(1)
        try RawLMDB.withEnvironment(directory.path) {
            try $0.put(database: "meta", key: Array("format".utf8), value: Array("tandem-journal/99".utf8))
        }
        #expect {
            _ = try makeJournal(directory)
        } throws: { error in
            guard let error = error as? JournalError else { return false }
            return error.code == .formatMismatch && error.message.contains("tandem-journal/99")
        }
    }

    @Test("Another program's LMDB environment is refused, not adopted: nothing is written into it")
    func foreignEnvironment() throws {
        let directory = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory.path + "/journal", withIntermediateDirectories: true)
        try RawLMDB.withEnvironment(directory.path) {
            try $0.put(database: "theirs", key: Array("key".utf8), value: Array("value".utf8), creating: true)
        }
        #expect {
            _ = try makeJournal(directory)
        } throws: { error in
            guard let error = error as? JournalError else { return false }
            return error.code == .formatMismatch && error.message.contains("not written by tandem")
        }
        let databases = try RawLMDB.withEnvironment(directory.path) { raw in
            try ["theirs", "meta", "entries"].filter { try raw.hasDatabase($0) }
        }
        #expect(databases == ["theirs"])
        // An empty directory still becomes a journal.
        let fresh = try TemporaryDirectory()
        #expect(try makeJournal(fresh).head().seq == 0)
    }

    @Test("A damaged run index checkpoint: a clear error for readers, never an overflow, and a rebuild of the index when the journal is opened for writing", arguments: [
        [UInt8](repeating: 0xFF, count: 8),  // UInt64.max: the seq after it would overflow
        [0x00, 0x01, 0x02],  // not a seq at all
        [0, 0, 0, 0, 0, 0, 0x03, 0xE8],  // seq 1000, beyond the head: entries past the head would be missed
    ])
    func damagedIndexCheckpoint(value: [UInt8]) async throws {
        let directory = try await filledJournal(8)
        let runs = try makeJournal(directory) { $0.readOnly = true }.openRuns().map(\.run)
        let expected = try makeJournal(directory) { $0.readOnly = true }.entries(of: RunID("t1")!).map(\.seq)
        #expect(expected == [2, 6])
        try RawLMDB.withEnvironment(directory.path) {
            try $0.put(database: "meta", key: Array("indexed".utf8), value: value)
        }
        let reader = try makeJournal(directory) { $0.readOnly = true }
        #expect {
            _ = try reader.entries(of: RunID("t1")!)
        } throws: { error in
            guard let error = error as? JournalError else { return false }
            return error.code == .corrupted && error.message.contains("checkpoint is damaged") && error.message.contains("rebuilds the index")
        }
        // Opening it for writing empties the index; readers scan the entries until the writer has
        // derived it again, and both give the same answers as before the damage.
        let journal = try makeJournal(directory)
        #expect(try journal.entries(of: RunID("t1")!).map(\.seq) == expected)
        #expect(try journal.openRuns().map(\.run) == runs)
        _ = try await journal.append([try abortedEntry("t1", reason: "appended after the rebuild")])
        #expect(try journal.entries(of: RunID("t1")!).map(\.seq) == expected + [9])
        #expect(try journal.verify().isValid, "the entries themselves are intact")
    }

    @Test("Seqs with no successor (UInt64.max) in a line, the head record or a key are damage that is named, never an overflow")
    func largestSeq() async throws {
        let line = Array(#"{"seq":18446744073709551615,"ts":"2026-11-28T08:05:30.123456Z","run_id":"r","type":"run_aborted","data":{},"prev":"\#(String(repeating: "0", count: 64))"}"#.utf8)
        #expect {
            _ = try JournalEntry(line: line)
        } throws: { error in
            (error as? JournalError)?.code == .invalidEntry && "\(error)".contains("beyond any journal's range")
        }

        let strayKey = try await filledJournal(3)
        try RawLMDB.withEnvironment(strayKey.path) {
            try $0.put(database: "entries", key: [UInt8](repeating: 0xFF, count: 8), value: line)
        }
        let reader = try makeJournal(strayKey) { $0.readOnly = true }
        let report = try reader.verify()
        #expect(report.problem?.seq == .max)
        var scanned: [UInt64] = []
        try reader.scan(from: 1) { key, _ in
            scanned.append(key)
            return true
        }
        #expect(scanned == [1, 2, 3, .max], "the scan reaches the stray key and ends there")

        let damagedHead = try await filledJournal(3)
        try RawLMDB.withEnvironment(damagedHead.path) {
            try $0.put(database: "meta", key: Array("head".utf8), value: [UInt8](repeating: 0xFF, count: 8) + ChainHash.genesis)
        }
        #expect {
            _ = try makeJournal(damagedHead)
        } throws: { error in
            (error as? JournalError)?.code == .corrupted && "\(error)".contains("head record is damaged")
        }
    }

    @Test("A full map grows on its own")
    func mapGrows() async throws {
        let directory = try TemporaryDirectory()
        let journal = try makeJournal(directory) { $0.initialMapBytes = 256 * 1024 }
        let big = String(repeating: "x", count: 2_000)
        for _ in 0..<20 {
            _ = try await journal.append((0..<50).map { _ in try abortedEntry("grow", reason: big) })
        }
        #expect(try journal.head().seq == 1_000)
        #expect(journal.storage.mapSize > 256 * 1024)
        #expect(try journal.verify().isValid)
    }

    @Test("Out of space: a clear error, nothing half-written, the journal still verifies and accepts small appends")
    func outOfSpace() async throws {
        let directory = try TemporaryDirectory()
        let journal = try makeJournal(directory) {
            $0.initialMapBytes = 256 * 1024
            $0.maxMapBytes = 256 * 1024
        }
        _ = try await journal.append(abortedEntry("space", reason: "before"))
        let big = String(repeating: "x", count: 4_000)
        var failure: JournalError?
        for _ in 0..<200 {
            do {
                _ = try await journal.append((0..<10).map { _ in try abortedEntry("space", reason: big) })
            } catch let error as JournalError {
                failure = error
                break
            }
        }
        let error = try #require(failure)
        #expect(error.code == .mapFull)
        #expect(error.message.contains("full"))
        let head = try journal.head()
        #expect(try journal.verify().isValid)
        #expect(try journal.verify().head == head)
        journal.close()
        // After a restart with room to grow, appends continue from the same head.
        let reopened = try makeJournal(directory)
        let next = try await reopened.append(abortedEntry("space", reason: "after"))
        #expect(next.seq == head.seq + 1)
        #expect(try reopened.verify().isValid)
    }

    @Test("SIGKILL while appending: every acknowledged append survives and the chain verifies", .timeLimit(.minutes(2)))
    func crashSafety() async throws {
        let directory = try TemporaryDirectory()
        let child = try RunningTandem([
            "journal", "append", "--data-dir", directory.path, "--run", "crash", "--type", "run_aborted",
            "--data", #"{"reason":"crash test"}"#, "--count", "10000000", "--concurrency", "16",
        ])
        var acknowledged: [UInt64] = []
        while acknowledged.count < 3_000, let line = await child.nextLine() {
            acknowledged.append(try #require(UInt64(line)))
        }
        child.send(SIGKILL)
        while let line = await child.nextLine(), let seq = UInt64(line) { acknowledged.append(seq) }
        let exit = await child.exited()
        #expect(exit.status == .killed(by: SIGKILL), "child ended by itself: \(exit.stderr)")
        #expect(acknowledged.count >= 3_000)

        let journal = try makeJournal(directory)
        let report = try journal.verify()
        #expect(report.isValid, "\(String(describing: report.problem))")
        let stored = Set(try journal.seqs(of: RunID("crash")!))
        #expect(acknowledged.allSatisfy { stored.contains($0) })
        #expect(report.head.seq >= acknowledged.max()!)
        // The journal accepts appends after the crash.
        let next = try await journal.append(abortedEntry("crash", reason: "after"))
        #expect(next.seq == report.head.seq + 1)
    }
}
