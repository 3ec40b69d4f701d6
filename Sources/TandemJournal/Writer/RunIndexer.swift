import TandemStorage

/// How an entry changed its run's open/closed state, as stored in the `marks` database
/// (only for entries that open or close a run).
enum LifecycleMark: UInt8 {
    case opens = 1
    case closes = 2

    init?(_ lifecycle: PendingEntry.Lifecycle) {
        switch lifecycle {
        case .opensRun: self = .opens
        case .closesRun: self = .closes
        case .none: return nil
        }
    }
}

/// Maintains the run index (`run_starts`, `run_entries`, `open_runs`) behind the journal.
///
/// The index is derived from the journal: committed entries are recorded here and written in one
/// transaction every few tens of milliseconds, together with the `indexed` checkpoint (the last
/// seq the index covers). Readers add the few entries past the checkpoint by scanning them, so
/// the index is always complete; after a crash, ``catchUp()`` re-derives what the checkpoint
/// misses from the entries and their lifecycle marks.
///
/// Writer-thread only (owned by ``JournalWriter``).
struct RunIndexer {
    private struct Pending {
        var run: RunID
        var seq: UInt64
        var mark: LifecycleMark?
    }

    private let storage: JournalStore
    /// ``JournalConfiguration/beforeRunIndexFlush``.
    private let beforeFlush: (@Sendable (UInt64) -> Void)?
    private var pending: [Pending] = []
    /// Anchors (first seq) of recently indexed runs; mirrors committed index state only.
    private var anchors: [RunID: UInt64] = [:]

    init(storage: JournalStore, beforeFlush: (@Sendable (UInt64) -> Void)? = nil) {
        self.storage = storage
        self.beforeFlush = beforeFlush
    }

    var hasPendingWork: Bool { !pending.isEmpty }
    var pendingCount: Int { pending.count }

    /// Notes a committed entry for the next flush.
    mutating func record(run: RunID, seq: UInt64, lifecycle: PendingEntry.Lifecycle) {
        pending.append(Pending(run: run, seq: seq, mark: LifecycleMark(lifecycle)))
    }

    /// Re-reads entries committed after the index checkpoint (a crash between a journal commit
    /// and the index flush) and indexes them.
    mutating func catchUp() throws {
        let tail = try storage.read { txn in
            try Self.readEntries(from: try RunIndex.indexedThrough(txn, storage) + 1, through: .max, txn, storage)
        }
        pending = tail + pending
        try flush()
    }

    /// Writes every pending entry into the index and advances the checkpoint, in one transaction.
    ///
    /// Another process may append to the same journal (`tandem journal append` beside `serve`)
    /// and index its own entries: the checkpoint is read inside the transaction, entries it
    /// already covers are skipped, entries this process did not write are read back from the
    /// journal to close the gap, and the checkpoint never moves backwards.
    ///
    /// Anchors first stored by the transaction are remembered only once it commits (the storage
    /// runs it again after growing a full map, and a failed one stores nothing).
    mutating func flush() throws {
        guard let last = pending.last?.seq else { return }
        var stored: [RunID: UInt64] = [:]
        // Locals, not `self`: the closure would otherwise copy the indexer for every call it makes.
        let (storage, known, queued, beforeFlush) = (self.storage, anchors, pending, self.beforeFlush)
        try storage.write { txn in
            stored.removeAll()
            let indexed = try RunIndex.indexedThrough(txn.reads, storage)
            guard last > indexed else { return }
            var work = queued.drop { $0.seq <= indexed }
            if let first = work.first, first.seq != indexed + 1 || last - first.seq != UInt64(work.count - 1) {
                work = try Self.readEntries(from: indexed + 1, through: last, txn.reads, storage)[...]
            }
            let databases = storage.databases
            for entry in work {
                let anchor = try Self.anchor(of: entry.run, firstSeq: entry.seq, known: known, in: txn, storage: storage, storing: &stored)
                let anchorKey = SeqKey.encode(anchor)
                try txn.put(anchorKey + SeqKey.encode(entry.seq), [], in: databases.runEntries)
                switch entry.mark {
                case .opens:
                    try txn.put(anchorKey, Array(entry.run.rawValue.utf8), in: databases.openRuns)
                case .closes:
                    try txn.delete(anchorKey, in: databases.openRuns)
                case nil:
                    break
                }
            }
            beforeFlush?(last)
            try RunIndex.setIndexedThrough(last, txn, storage)
        }
        if anchors.count + stored.count > 65_536 { anchors.removeAll(keepingCapacity: true) }
        anchors.merge(stored) { _, new in new }
        pending.removeAll(keepingCapacity: true)
    }

    /// The committed entries in `from...through` with their lifecycle marks, read from the journal.
    private static func readEntries(from: UInt64, through: UInt64, _ txn: borrowing ReadTransaction, _ storage: JournalStore) throws -> [Pending] {
        var entries: [Pending] = []
        try txn.walk(storage.databases.entries, from: SeqKey.encode(from)) { key, line in
            let seq = SeqKey.decode(key)
            guard seq <= through else { return false }
            let layout = try EntryLine.parse(line)
            let run = RunID(validatedRawValue: String(decoding: UnsafeRawBufferPointer(rebasing: line[layout.runID]), as: UTF8.self))
            entries.append(Pending(run: run, seq: seq, mark: nil))
            return true
        }
        if let first = entries.first {
            var index = 0
            try txn.walk(storage.databases.marks, from: SeqKey.encode(first.seq)) { key, value in
                let seq = SeqKey.decode(key)
                guard seq <= through else { return false }
                while index < entries.count, entries[index].seq < seq { index += 1 }
                if index < entries.count, entries[index].seq == seq { entries[index].mark = value.first.flatMap(LifecycleMark.init(rawValue:)) }
                return true
            }
        }
        return entries
    }

    /// The anchor of `run`: its first seq, recorded in `run_starts` when the run is first indexed.
    /// Anchors not yet in `anchors` (the indexer's known ones) are noted in `stored`, for after the commit.
    private static func anchor(
        of run: RunID, firstSeq seq: UInt64, known anchors: [RunID: UInt64], in txn: borrowing WriteTransaction, storage: JournalStore,
        storing stored: inout [RunID: UInt64]
    ) throws -> UInt64 {
        if let anchor = anchors[run] ?? stored[run] { return anchor }
        let runKey = Array(run.rawValue.utf8)
        let anchor: UInt64
        if let value = try txn.reads.get(runKey, in: storage.databases.runStarts) {
            anchor = SeqKey.decode(value)
        } else {
            try txn.put(runKey, SeqKey.encode(seq), in: storage.databases.runStarts)
            anchor = seq
        }
        stored[run] = anchor
        return anchor
    }
}
