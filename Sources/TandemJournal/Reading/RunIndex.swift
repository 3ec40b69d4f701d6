import Logging
import TandemStorage

/// Reads of the run index, completed with the entries past its checkpoint (see ``RunIndexer``).
enum RunIndex {
    private static let checkpointKey = Array("indexed".utf8)

    /// The last seq the index covers (0 when nothing is indexed).
    /// - Throws: ``JournalError`` `.corrupted` when the checkpoint is damaged (a read-write open
    ///   rebuilds the index then: ``rebuildIfDamaged(_:logger:)``).
    static func indexedThrough(_ txn: borrowing ReadTransaction, _ storage: JournalStore) throws -> UInt64 {
        switch try checkpoint(txn, storage) {
        case .sound(let seq):
            return seq
        case .damaged(let damage):
            throw JournalError(.corrupted, "the run index's checkpoint is damaged (\(damage)); the entries are untouched, and opening the journal for writing (`tandem serve`) rebuilds the index")
        }
    }

    /// A stored checkpoint: a seq up to the head, or what is wrong with it.
    private enum Checkpoint {
        case sound(UInt64)
        case damaged(String)
    }

    /// The checkpoint (0 when there is none). Damaged: not a seq, or beyond the head (the index
    /// would claim entries that do not exist, readers would never scan the later ones past the
    /// head, and the seq after it may overflow; the head itself is at most
    /// ``JournalEntry/largestSeq``).
    private static func checkpoint(_ txn: borrowing ReadTransaction, _ storage: JournalStore) throws -> Checkpoint {
        guard let value = try txn.get(checkpointKey, in: storage.meta) else { return .sound(0) }
        guard value.count == 8 else { return .damaged("\(value.count) bytes, not a seq") }
        let seq = SeqKey.decode(value)
        let head = try JournalHead.read(txn, storage).seq
        return seq > head ? .damaged("seq \(seq), beyond the head \(head)") : .sound(seq)
    }

    /// Empties the run index when its checkpoint is damaged, so that the writer derives it again
    /// from seq 1 (the index is derived from the entries; readers scan the entries meanwhile).
    /// - Returns: whether it did.
    static func rebuildIfDamaged(_ storage: JournalStore, logger: Logger) throws -> Bool {
        func damage(_ txn: borrowing ReadTransaction) throws -> String? {
            if case .damaged(let damage) = try checkpoint(txn, storage) { return damage }
            return nil
        }
        guard try storage.read({ try damage($0) }) != nil else { return false }
        return try storage.write { txn in
            // Checked again under the writer lock: another process may have rebuilt it.
            guard let damage = try damage(txn.reads) else { return false }
            logger.error("the run index's checkpoint is damaged; rebuilding the run index from the entries", metadata: ["damage": "\(damage)"])
            let databases = storage.databases
            for database in [databases.runStarts, databases.runEntries, databases.openRuns] { try txn.empty(database) }
            try txn.delete(checkpointKey, in: storage.meta)
            return true
        }
    }

    static func setIndexedThrough(_ seq: UInt64, _ txn: borrowing WriteTransaction, _ storage: JournalStore) throws {
        try txn.put(checkpointKey, SeqKey.encode(seq), in: storage.meta)
    }

    /// The seqs of `run` greater than `after`, in order: the indexed ones, then those past the
    /// checkpoint (only entries past both are scanned).
    static func seqs(of run: RunID, after: UInt64 = 0, _ txn: borrowing ReadTransaction, _ storage: JournalStore) throws -> [UInt64] {
        let indexed = try indexedThrough(txn, storage)
        var seqs: [UInt64] = []
        if after < indexed, let anchor = try txn.get(Array(run.rawValue.utf8), in: storage.databases.runStarts) {
            seqs = try indexedSeqs(anchor: SeqKey.decode(anchor), after: after, txn, storage)
        }
        let runBytes = Array(run.rawValue.utf8)
        let scanFrom = max(indexed, after)
        guard scanFrom < .max else { return seqs }
        try txn.walk(storage.databases.entries, from: SeqKey.encode(scanFrom + 1)) { key, line in
            let layout = try EntryLine.parse(line)
            if line[layout.runID].elementsEqual(runBytes) { seqs.append(SeqKey.decode(key)) }
            return true
        }
        return seqs
    }

    /// The seqs up to `through` of each of `runs` that has any, in order: the indexed ones, then
    /// those past the checkpoint, found in one scan for all of them.
    static func seqs(of runs: Set<RunID>, through: UInt64, _ txn: borrowing ReadTransaction, _ storage: JournalStore) throws -> [RunID: [UInt64]] {
        let indexed = try indexedThrough(txn, storage)
        var result: [RunID: [UInt64]] = [:]
        for run in runs {
            guard let anchor = try txn.get(Array(run.rawValue.utf8), in: storage.databases.runStarts) else { continue }
            let seqs = try indexedSeqs(anchor: SeqKey.decode(anchor), after: 0, txn, storage).prefix { $0 <= through }
            if !seqs.isEmpty { result[run] = Array(seqs) }
        }
        guard indexed < through else { return result }
        let byBytes = Dictionary(uniqueKeysWithValues: runs.map { (Array($0.rawValue.utf8), $0) })
        try txn.walk(storage.databases.entries, from: SeqKey.encode(indexed + 1)) { key, line in
            let seq = SeqKey.decode(key)
            guard seq <= through else { return false }
            let layout = try EntryLine.parse(line)
            if let run = byBytes[Array(line[layout.runID])] { result[run, default: []].append(seq) }
            return true
        }
        return result
    }

    /// Which of the runs in `openings` (a run and the seq of one of its entries) have an entry
    /// before that seq: a run's anchor (its first indexed seq) answers for the index, and one scan
    /// of the entries past the checkpoint, up to the latest opening, for the rest.
    static func runs(withEntriesBefore openings: [RunID: UInt64], _ txn: borrowing ReadTransaction, _ storage: JournalStore) throws -> Set<RunID> {
        let indexed = try indexedThrough(txn, storage)
        var found = Set<RunID>()
        var unindexed: [[UInt8]: (run: RunID, opening: UInt64)] = [:]
        for (run, opening) in openings {
            let runKey = Array(run.rawValue.utf8)
            if let anchor = try txn.get(runKey, in: storage.databases.runStarts), SeqKey.decode(anchor) < opening {
                found.insert(run)
            } else if opening > indexed, opening - indexed > 1 {
                // Entries between the checkpoint and the opening are not in the index yet.
                unindexed[runKey] = (run, opening)
            }
        }
        guard let last = unindexed.values.map(\.opening).max() else { return found }
        try txn.walk(storage.databases.entries, from: SeqKey.encode(indexed + 1)) { key, line in
            let seq = SeqKey.decode(key)
            guard seq < last else { return false }
            let layout = try EntryLine.parse(line)
            if let (run, opening) = unindexed[Array(line[layout.runID])], seq < opening { found.insert(run) }
            return true
        }
        return found
    }

    /// The seqs after `after` of the run whose anchor is `anchor`, from the `run_entries` keys
    /// that start with it.
    private static func indexedSeqs(anchor: UInt64, after: UInt64, _ txn: borrowing ReadTransaction, _ storage: JournalStore) throws -> [UInt64] {
        var seqs: [UInt64] = []
        try txn.walk(storage.databases.runEntries, from: SeqKey.encode(anchor) + SeqKey.encode(after == .max ? after : after + 1)) { keyBytes, _ in
            guard keyBytes.count == 16, SeqKey.decode(UnsafeRawBufferPointer(rebasing: keyBytes[0..<8])) == anchor else { return false }
            seqs.append(SeqKey.decode(UnsafeRawBufferPointer(rebasing: keyBytes[8..<16])))
            return true
        }
        return seqs
    }

    /// Open runs, oldest first: the indexed ones, updated by the lifecycle marks past the checkpoint.
    static func openRuns(_ txn: borrowing ReadTransaction, _ storage: JournalStore) throws -> [(run: RunID, openedAt: UInt64)] {
        let indexed = try indexedThrough(txn, storage)
        var open: [(run: RunID, openedAt: UInt64)] = []
        try txn.walk(storage.databases.openRuns, from: nil) { key, value in
            open.append((RunID(validatedRawValue: String(decoding: value, as: UTF8.self)), SeqKey.decode(key)))
            return true
        }
        try txn.walk(storage.databases.marks, from: SeqKey.encode(indexed + 1)) { key, value in
            let seq = SeqKey.decode(key)
            guard let line = try txn.get(SeqKey.encode(seq), in: storage.databases.entries) else {
                throw JournalError(.corrupted, "a lifecycle mark names a missing entry", seq: seq)
            }
            let layout = try line.withUnsafeBytes { try EntryLine.parse($0) }
            let run = RunID(uncheckedBytes: line[layout.runID])
            switch value.first.flatMap(LifecycleMark.init(rawValue:)) {
            case .opens: if !open.contains(where: { $0.run == run }) { open.append((run, seq)) }
            case .closes: open.removeAll { $0.run == run }
            case nil: break
            }
            return true
        }
        return open
    }
}
