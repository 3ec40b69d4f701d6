import Foundation
import Logging
import TandemDomain
import TandemTestSupport
import Testing

@testable import TandemJournal

/// The journal's part of the hardening review (issue 11, items 5, 13 and 15).
@Suite("Journal hardening", .serialized, .timeLimit(.minutes(1)))
struct JournalHardeningTests {
    @Test("An append by another process does not move the run index past this process's unindexed entries, nor back")
    func appendBesideAWriter() async throws {
        let directory = try TemporaryDirectory()
        // The index of this process (think `serve`) is flushed only at close.
        let journal = try makeJournal(directory) { $0.indexInterval = .seconds(3_600) }
        _ = try await journal.append((0..<3).map { _ in try abortedEntry("served") })

        let appended = try TandemExecutable.run([
            "journal", "append", "--data-dir", directory.path, "--run", "beside", "--type", "run_aborted",
            "--data", #"{"reason":"by hand"}"#, "--count", "3",
        ])
        #expect(appended.status == 0, "\(appended.stderr)")
        #expect(appended.stdout.split(separator: "\n") == ["4", "5", "6"])

        // The other process indexed its entries at exit; this one's are still found.
        #expect(try journal.seqs(of: RunID("served")!) == [1, 2, 3])
        #expect(try journal.seqs(of: RunID("beside")!) == [4, 5, 6])
        _ = try await journal.append(try abortedEntry("served"))
        journal.close()

        let reopened = try makeJournal(directory) { $0.readOnly = true }
        #expect(try reopened.seqs(of: RunID("served")!) == [1, 2, 3, 7])
        #expect(try reopened.seqs(of: RunID("beside")!) == [4, 5, 6])
        #expect(try reopened.indexedThrough == 7)
    }

    @Test("A follower waiting for its run is woken by that run's commits only")
    func followersWakeForTheirRunOnly() async throws {
        let directory = try TemporaryDirectory()
        let journal = try makeJournal(directory)
        defer { journal.close() }
        let followed = RunID("followed")!
        _ = try await journal.append(try abortedEntry("followed"))
        let watch = journal.watch(followed)
        let seen = try journal.entries(of: followed).last!.seq
        let waiter = Task {
            await journal.waitForAppend(to: watch, beyond: seen, timeout: .seconds(3_600))
            return try journal.entries(of: followed, after: seen).map(\.seq)
        }
        for _ in 0..<20 { _ = try await journal.append(try abortedEntry("other")) }
        let next = try await journal.append(try abortedEntry("followed"))
        // Woken once, by the followed run's commit: it reads exactly what is new.
        #expect(try await waiter.value == [next.seq])
    }

    @Test("A replay killed by SIGPIPE inside a read transaction leaves a reader slot that the writer frees")
    func staleReadersAreFreed() async throws {
        let directory = try TemporaryDirectory()
        do {
            let journal = try makeJournal(directory)
            _ = try await journal.append((0..<3_000).map { _ in try abortedEntry("many", reason: String(repeating: "r", count: 200)) })
            journal.close()
        }
        let journal = try makeJournal(directory) { $0.staleReaderCheckInterval = .milliseconds(50) }
        defer { journal.close() }
        let before = journal.staleReaderSlotsFreed

        // `tandem journal replay | head` whose reader has gone: Python's subprocess restores
        // SIGPIPE's default action (this test process ignores it, and children inherit that).
        let script = """
            import subprocess, sys
            child = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            child.stdout.close()
            sys.exit(-child.wait())
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, TandemExecutable.path, "journal", "replay", "--data-dir", directory.path]
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == SIGPIPE, "the replay did not die of SIGPIPE")

        // Polling: the writer's check runs on its own thread every 50 ms, with nothing to await.
        while journal.staleReaderSlotsFreed == before { try await Task.sleep(for: .milliseconds(20)) }
        #expect(journal.staleReaderSlotsFreed > before)
    }
}
