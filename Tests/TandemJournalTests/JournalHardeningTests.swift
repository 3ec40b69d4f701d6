import Foundation
import Logging
import Synchronization
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

        let appended = try await TandemExecutable.run([
            "journal", "append", "--data-dir", directory.path, "--run", "beside", "--type", "run_aborted",
            "--data", #"{"reason":"by hand"}"#, "--count", "3",
        ])
        #expect(appended.status == 0, "\(appended.stderr)")
        #expect(appended.stdout.split(separator: "\n") == ["4", "5", "6"])

        // The other process indexed its entries at exit; this one's are still found.
        #expect(try journal.seqs(of: RunID("served")!) == [1, 2, 3])
        #expect(try journal.seqs(of: RunID("beside")!) == [4, 5, 6])
        // This process flushes its older entries last: the checkpoint must not move back to 3
        // (the other run's entries would then be found twice, indexed and past the checkpoint).
        journal.close()

        let reopened = try makeJournal(directory) { $0.readOnly = true }
        #expect(try reopened.indexedThrough == 6)
        #expect(try reopened.seqs(of: RunID("served")!) == [1, 2, 3])
        #expect(try reopened.seqs(of: RunID("beside")!) == [4, 5, 6])
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
        let clock = ManualClock()
        let journal = try makeJournal(directory) {
            $0.staleReaderCheckInterval = .seconds(3_600)
            $0.monotonicClock = clock
        }
        defer { journal.close() }
        let before = journal.staleReaderSlotsFreed

        // `tandem journal replay | head` whose reader has gone.
        let status = try await TandemExecutable.replayWithClosedOutput(dataDirectory: directory.path)
        #expect(status == SIGPIPE, "the replay did not die of SIGPIPE")

        // The check is due on the injected clock; the writer makes it after its next commit, and
        // has made it once the commit after that returns.
        #expect(journal.staleReaderSlotsFreed == before)
        clock.advance(by: .seconds(3_600))
        _ = try await journal.append(try abortedEntry("wake"))
        _ = try await journal.append(try abortedEntry("after"))
        #expect(journal.staleReaderSlotsFreed > before)
    }
}

extension JournalHardeningTests {
    @Test("async durability: a failed background sync refuses appends (not only logs), is not retried in a loop, and clears once a sync succeeds")
    func failedSyncRefusesAppends() async throws {
        let directory = try TemporaryDirectory()
        let failing = Shared(true)
        let attempts = Shared(0)
        let clock = ManualClock()
        let journal = try hourlySyncedJournal(directory, clock: clock) {
            attempts.value.withLock { $0 += 1 }
            if failing.value.withLock({ $0 }) { throw JournalError(.io, "EIO from the test's disk") }
        }
        defer { journal.close() }
        _ = try await journal.append(try abortedEntry("before"))
        // The writer's look for a due sync after that commit runs after the append returns: let it
        // end first, or it sees the moved clock, syncs (and fails) one commit early.
        while !journal.writerIsIdle { await Task.yield() }
        clock.advance(by: .seconds(3_600))
        // Acknowledged before its sync (async durability); the writer syncs after this commit,
        // due on the injected clock, and the sync fails.
        _ = try await journal.append(try abortedEntry("unsynced"))
        // The next commit tries the sync again first, fails, and refuses the append.
        await #expect(throws: JournalError.self) { _ = try await journal.append(try abortedEntry("refused")) }
        #expect(journal.lastAppendFailure != nil)
        #expect(attempts.value.withLock { $0 } == 2)
        // The failed sync moved the next background try a whole interval on: with the injected
        // clock standing still, only the next append tries again (a spin made tens of thousands).
        await #expect(throws: JournalError.self) { _ = try await journal.append(try abortedEntry("refused-again")) }
        #expect(attempts.value.withLock { $0 } == 3)

        failing.value.withLock { $0 = false }
        let committed = try await journal.append(try abortedEntry("after"))
        #expect(committed.seq == 3)
        #expect(journal.lastAppendFailure == nil)
    }
}

extension JournalHardeningTests {
    @Test("async durability syncs once its interval has passed on the injected clock, not before")
    func asyncSyncOnTheInjectedClock() async throws {
        let directory = try TemporaryDirectory()
        let clock = ManualClock()
        let syncs = Shared(0)
        let (synced, recordSync) = AsyncStream.makeStream(of: Void.self)
        let journal = try hourlySyncedJournal(directory, clock: clock) {
            syncs.value.withLock { $0 += 1 }
            recordSync.yield()
        }
        defer { journal.close() }
        _ = try await journal.append(try abortedEntry("first"))
        // The writer looks for a due sync after each commit, before it takes the next request:
        // once this second append returns, the first commit's look is over.
        _ = try await journal.append(try abortedEntry("second"))
        #expect(syncs.value.withLock { $0 } == 0, "synced before its interval passed")
        clock.advance(by: .seconds(3_600))
        // Real time has not moved: only the injected clock makes this commit's sync due.
        _ = try await journal.append(try abortedEntry("third"))
        var iterator = synced.makeAsyncIterator()
        await iterator.next()
        #expect(syncs.value.withLock { $0 } == 1)
    }
}

/// A journal in `async` durability that syncs (through `sync`) every hour of `clock`.
private func hourlySyncedJournal(
    _ directory: TemporaryDirectory, clock: ManualClock, sync: @escaping @Sendable () throws -> Void
) throws -> Journal {
    try makeJournal(directory) {
        $0.durability = .async
        $0.syncInterval = .seconds(3_600)
        $0.monotonicClock = clock
        $0.syncOverride = sync
    }
}

/// A value shared with a `@Sendable` closure.
private final class Shared<Value: Sendable>: Sendable {
    let value: Mutex<Value>

    init(_ value: Value) {
        self.value = Mutex(value)
    }
}
