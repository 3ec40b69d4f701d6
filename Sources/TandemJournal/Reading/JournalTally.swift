import Foundation
import Synchronization
import TandemStorage

/// The journal's size as the writer keeps it (SPEC §11 "Heavy reads"): entries and bytes up to a
/// seq, and the runs open at that seq. Counted once when the journal is opened for writing, then
/// moved on by every commit, so `GET /api/journal` answers in O(1) without reading the journal.
struct JournalTally: Sendable {
    /// The seq the counts cover.
    var through: UInt64 = 0
    /// The bytes of the lines `1...through`.
    var bytes: UInt64 = 0
    /// The runs opened and not closed in `1...through`.
    var openRuns: Set<RunID> = []
    /// Whether the counts are known: false in a read-only journal, and after another process
    /// appended between two of this writer's commits (the next read counts again, once).
    var known = false

    /// The tally shared by the journal and its writer's commit callback.
    final class Cell: Sendable {
        let value = Mutex(JournalTally())
    }

    /// Moves the counts on by one commit of this process's writer, which brought the head to `head`.
    mutating func record(head: UInt64, _ observation: JournalWriter.CommitObservation) {
        let entries = UInt64(observation.entries)
        if head < entries || head - entries != through { known = false }
        through = head
        bytes += observation.bytes
        for run in observation.opened { openRuns.insert(run) }
        for run in observation.closed { openRuns.remove(run) }
    }
}

extension Journal {
    /// The counts of `1...head`: one walk of the entries (the journal's only full read outside a
    /// verify), and the run index's open runs.
    static func countedTally(storage: JournalStore, head: UInt64, scans: borrowing Atomic<Int>) throws -> JournalTally {
        scans.add(1, ordering: .relaxed)
        var bytes: UInt64 = 0
        try storage.read { txn in
            try txn.walk(storage.databases.entries, from: SeqKey.encode(1)) { key, value in
                guard SeqKey.decode(key) <= head else { return false }
                bytes += UInt64(value.count)
                return true
            }
        }
        let open = try storage.read { txn in try RunIndex.openRuns(txn, storage) }
        return JournalTally(through: head, bytes: bytes, openRuns: Set(open.map(\.run)), known: true)
    }

    /// The journal's size and extent for `GET /api/journal`, from the counts the writer keeps:
    /// O(1) reads (the head, the first and last entries, the file's size), no scan — unless
    /// another process appended to this journal since it was opened, when the counts are made
    /// again once.
    public func liveStats() throws -> JournalStats {
        // The counts first, then the head: a commit in between shows as a head beyond the counts,
        // and reading both again settles it; only another process's appends leave them apart.
        var tally = self.tally.value.withLock { $0 }
        var head = try self.head()
        for _ in 0..<3 where tally.known && tally.through != head.seq {
            tally = self.tally.value.withLock { $0 }
            head = try self.head()
        }
        if !tally.known || tally.through != head.seq {
            tally = try Self.countedTally(storage: storage, head: head.seq, scans: scans)
            let fresh = tally
            self.tally.value.withLock { stored in if stored.through <= fresh.through { stored = fresh } }
        }
        let attributes = try? FileManager.default.attributesOfItem(atPath: configuration.journalDirectory + "/data.mdb")
        return JournalStats(
            entries: head.seq,
            lineBytes: tally.bytes,
            head: head,
            firstTimestamp: head.seq > 0 ? try entry(1)?.timestamp : nil,
            lastTimestamp: head.seq > 0 ? try entry(head.seq)?.timestamp : nil,
            fileBytes: (attributes?[.size] as? NSNumber)?.uint64Value ?? 0,
            mapBytes: UInt64(storage.mapSize),
            openRuns: tally.openRuns.count
        )
    }
}
