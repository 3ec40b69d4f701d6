import Foundation
import Synchronization
import TandemDomain
import TandemTestSupport
import Testing

@testable import TandemJournal

/// `journal verify` checks one consistent snapshot: before the fix it read the head, then scanned
/// to the end of whatever was stored by then, and reported "entries beyond the recorded head"
/// whenever `serve` appended meanwhile (20 verifies during a load test: most failed).
@Suite("Journal verify under concurrent appends", .timeLimit(.minutes(2)))
struct VerifySnapshotTests {
    @Test("20 verifies while an appender commits continuously all succeed, each up to the head it read")
    func verifyWhileAppending() async throws {
        let directory = try TemporaryDirectory()
        // Sync durability: each append waits for its fsync, so the appender commits all along
        // without taking the CPU the verifies need.
        let journal = try makeJournal(directory)
        // More entries than one read chunk (8,192): a scan spans several read transactions, and
        // appends land between them (the window in which the old verify saw entries past its head).
        for batch in 0..<5 {
            _ = try await journal.append((0..<2_000).map { try abortedEntry("seed\(($0 + batch) % 16)", reason: "seed \($0)") })
        }
        let stop = Atomic<Bool>(false)
        let appender = Task {
            var appended = 0
            while !stop.load(ordering: .relaxed) {
                _ = try await journal.append(try abortedEntry("live\(appended % 8)", reason: "live \(appended)"))
                appended += 1
            }
            return appended
        }
        var heads: [UInt64] = []
        for _ in 0..<20 {
            let report = try journal.verify()
            #expect(report.problem == nil, "\(report.problem.map(String.init(describing:)) ?? "")")
            #expect(report.entriesChecked == report.head.seq)
            heads.append(report.head.seq)
        }
        stop.store(true, ordering: .relaxed)
        let appended = try await appender.value
        #expect(appended > 0)
        #expect(heads.last! > heads.first!, "the appender committed while the verifies ran")
        #expect(try journal.verify().problem == nil)
    }
}
