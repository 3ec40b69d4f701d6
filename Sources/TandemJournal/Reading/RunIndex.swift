import CLMDB

/// Reads of the run index, completed with the entries past its checkpoint (see ``RunIndexer``).
enum RunIndex {
    private static let checkpointKey = Array("indexed".utf8)

    /// The last seq the index covers (0 when nothing is indexed).
    static func indexedThrough(_ txn: OpaquePointer, _ environment: LMDBEnvironment) throws -> UInt64 {
        guard let value = try LMDB.get(txn, environment.meta, key: checkpointKey) else { return 0 }
        return value.withUnsafeBytes { LMDB.seq(fromKey: $0) }
    }

    static func setIndexedThrough(_ seq: UInt64, _ txn: OpaquePointer, _ environment: LMDBEnvironment) throws {
        try LMDB.put(txn, environment.meta, key: checkpointKey, value: LMDB.key(seq))
    }

    /// The seqs of `run` greater than `after`, in order: the indexed ones, then those past the
    /// checkpoint (only entries past both are scanned).
    static func seqs(of run: RunID, after: UInt64 = 0, _ txn: OpaquePointer, _ environment: LMDBEnvironment) throws -> [UInt64] {
        let indexed = try indexedThrough(txn, environment)
        var seqs: [UInt64] = []
        if after < indexed, let anchor = try LMDB.get(txn, environment.runStarts, key: Array(run.rawValue.utf8)) {
            seqs = try LMDB.runSeqs(txn, environment.runEntries, anchor: anchor.withUnsafeBytes { LMDB.seq(fromKey: $0) }, after: after)
        }
        let runBytes = Array(run.rawValue.utf8)
        let scanFrom = max(indexed, after)
        guard scanFrom < .max else { return seqs }
        try LMDB.walk(txn, environment.entries, from: LMDB.key(scanFrom + 1)) { key, line in
            let layout = try EntryLine.parse(line)
            if line[layout.runID].elementsEqual(runBytes) { seqs.append(LMDB.seq(fromKey: key)) }
            return true
        }
        return seqs
    }

    /// Open runs, oldest first: the indexed ones, updated by the lifecycle marks past the checkpoint.
    static func openRuns(_ txn: OpaquePointer, _ environment: LMDBEnvironment) throws -> [(run: RunID, openedAt: UInt64)] {
        let indexed = try indexedThrough(txn, environment)
        var open: [(run: RunID, openedAt: UInt64)] = []
        try LMDB.walk(txn, environment.openRuns, from: nil) { key, value in
            open.append((RunID(validatedRawValue: String(decoding: value, as: UTF8.self)), LMDB.seq(fromKey: key)))
            return true
        }
        try LMDB.walk(txn, environment.marks, from: LMDB.key(indexed + 1)) { key, value in
            let seq = LMDB.seq(fromKey: key)
            guard let line = try LMDB.get(txn, environment.entries, key: LMDB.key(seq)) else {
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
