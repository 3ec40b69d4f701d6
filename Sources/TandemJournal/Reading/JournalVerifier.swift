import Foundation
import TandemStorage

/// The outcome of checking a journal's sequence and hash chain.
public struct VerificationReport: Sendable, Equatable {
    /// The first thing found wrong.
    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        /// The first bad seq: the entry that is missing, malformed or was altered.
        public var seq: UInt64
        /// What is wrong with it.
        public var reason: String

        public var description: String { "seq \(seq): \(reason)" }
    }

    /// How many entries were checked.
    public var entriesChecked: UInt64
    /// The head as stored in the journal's meta record.
    public var head: JournalHead
    /// `nil` when everything verifies.
    public var problem: Problem?

    /// Whether the journal verified.
    public var isValid: Bool { problem == nil }
}

extension Journal {
    /// Checks that seqs run 1…head without gaps, every line is a canonical entry whose `seq` matches
    /// its key, every `prev` is the SHA-256 of the line before, and the last line hashes to the head.
    ///
    /// When a link breaks between entries k and k+1 it names the altered entry: k if k+1 still
    /// chains to its successor (k's bytes changed), k+1 otherwise (k+1's own `prev` changed).
    ///
    /// It checks one snapshot: the head and the last stored seq are read in one read transaction
    /// (a commit writes its entries and the head together), and the scans stop at that last seq.
    /// Entries appended meanwhile (by `serve`) are not looked at; those up to it never change in
    /// an append-only journal, so the segments' own read transactions see the snapshot's bytes.
    public func verify() throws -> VerificationReport {
        let (head, lastStored) = try storage.read { txn in
            (try JournalHead.read(txn, storage), try Self.lastStoredSeq(txn, storage))
        }
        let end = max(head.seq, lastStored)
        // A larger seq is a damaged key, named before the segment arithmetic below.
        guard end <= JournalEntry.largestSeq else {
            return VerificationReport(entriesChecked: 0, head: head, problem: .init(
                seq: end, reason: "an entry is stored under a seq beyond any journal's range (a damaged key)"
            ))
        }
        let segments = Self.verifySegments(end: end, cores: ProcessInfo.processInfo.activeProcessorCount)
        let results = SegmentResults(count: segments.count)
        DispatchQueue.concurrentPerform(iterations: segments.count) { index in
            results.store(index, Result { try self.verifySegment(first: segments[index].first, last: segments[index].last, end: end) })
        }
        var checked: UInt64 = 0
        var problem: VerificationReport.Problem?
        for (index, result) in try results.values().enumerated() {
            var state = result
            if index == segments.count - 1 { state.finish(head: head) }
            checked += state.checked
            if problem == nil, let found = state.problem { problem = found }
        }
        return VerificationReport(entriesChecked: checked, head: head, problem: problem)
    }

    /// How verify splits seqs 1…`end` (`end` ≤ ``JournalEntry/largestSeq``) into segments `first`…`last`.
    /// Hashing dominates, so four segments per core (up to 8 cores) that the cores take in turn: a
    /// core slowed by a neighbour then holds up a quarter of its share, not all of it. A journal
    /// under 65,536 entries is one segment (for an empty one, `last` is 0). Each segment seeds its
    /// chain with the hash of the entry just before it, so links across segments are checked too.
    static func verifySegments(end: UInt64, cores: Int) -> [(first: UInt64, last: UInt64)] {
        let count = end < 65_536 ? 1 : 4 * UInt64(max(1, min(cores, 8)))
        let size = end / count + 1
        return (0..<count).map { index in
            let first = index * size + 1
            return (first, min(first + size - 1, end))
        }
    }

    /// Checks seqs `first...last`, reading one entry beyond (up to the snapshot's `end`) to settle
    /// a broken link at the end.
    private func verifySegment(first: UInt64, last: UInt64, end: UInt64) throws -> ChainCheck {
        var state = ChainCheck()
        state.expectedSeq = first
        if first > 1 {
            try scan(from: first - 1, through: first - 1) { key, line in
                if key == first - 1 { state.chain = ChainWalk(afterHash: ChainHash.hexBytes(of: line)) }
                return false
            }
        }
        try scan(from: first, through: min(last + 1, end)) { key, line in
            if key > last {
                if state.pendingLink != nil { state.check(key: key, line: line) }
                return false
            }
            state.check(key: key, line: line)
            return state.problem == nil || state.pendingLink != nil
        }
        return state
    }

    /// The highest seq stored in the entries database (which may differ from the head if damaged).
    func lastStoredSeq() throws -> UInt64 {
        try storage.read { txn in try Self.lastStoredSeq(txn, storage) }
    }

    private static func lastStoredSeq(_ txn: borrowing ReadTransaction, _ storage: JournalStore) throws -> UInt64 {
        try txn.lastKey(in: storage.databases.entries).map { SeqKey.decode($0) } ?? 0
    }
}

/// Per-segment outcomes of a parallel verify, filled in by worker threads.
///
/// `@unchecked Sendable`: each worker writes only its own index, under `lock`; `values()` reads
/// after `concurrentPerform` returned, i.e. after every write.
private final class SegmentResults: @unchecked Sendable {
    private var results: [Result<ChainCheck, any Error>?]
    private let lock = NSLock()

    init(count: Int) {
        results = Array(repeating: nil, count: count)
    }

    func store(_ index: Int, _ result: Result<ChainCheck, any Error>) {
        lock.withLock { results[index] = result }
    }

    func values() throws -> [ChainCheck] {
        try lock.withLock { try results.map { try $0!.get() } }
    }
}

/// The state of one pass over the chain.
struct ChainCheck {
    var expectedSeq: UInt64 = 1
    var chain = ChainWalk()
    var checked: UInt64 = 0
    var problem: VerificationReport.Problem?
    /// A broken link k→k+1 waiting for entry k+2 to tell which side was altered.
    var pendingLink: (left: UInt64, rightHash: [UInt8])?

    mutating func check(key: UInt64, line: UnsafeRawBufferPointer) {
        if let pending = pendingLink {
            // Does k+1 still chain to this entry? Then k was altered; otherwise k+1 was.
            var link = ChainWalk(afterHash: pending.rightHash)
            resolve(pending, rightIntact: link.step(line: line, prev: EntryLine.prevField(of: line)))
            return
        }
        guard problem == nil else { return }
        guard key == expectedSeq else {
            problem = .init(seq: expectedSeq, reason: key > expectedSeq ? "entry missing (next stored seq is \(key))" : "out-of-order key \(key)")
            return
        }
        // Hashing first reads the line front to back, which brings it into the cache for the parse.
        let linked = EntryLine.seqField(of: line) == key ? EntryLine.prevField(of: line).map { chain.step(line: line, prev: $0) } : nil
        guard let linked, (try? EntryLine.parse(line)) != nil else {
            problem = .init(seq: key, reason: "malformed line (not a canonical journal entry for this seq)")
            return
        }
        checked += 1
        if !linked {
            if key == 1 {
                problem = .init(seq: 1, reason: "entry altered: the first entry's prev is not 64 zeros")
            } else {
                problem = .init(seq: key - 1, reason: "chain broken between seq \(key - 1) and \(key)")
                pendingLink = (key - 1, chain.expectedPrev)
            }
        }
        expectedSeq = key + 1
    }

    /// Names the altered side of the broken link k→k+1: k when k+1 is intact, else k+1.
    private mutating func resolve(_ pending: (left: UInt64, rightHash: [UInt8]), rightIntact: Bool) {
        problem = rightIntact
            ? .init(seq: pending.left, reason: "entry altered: its hash no longer matches the next entry's prev")
            : .init(seq: pending.left + 1, reason: "entry altered: its prev does not match the hash of seq \(pending.left)")
        pendingLink = nil
    }

    mutating func finish(head: JournalHead) {
        if let pending = pendingLink {
            // k+1 is the last entry: it is intact if it still hashes to the stored head.
            resolve(pending, rightIntact: pending.rightHash == head.hash)
            return
        }
        guard problem == nil else { return }
        let last = expectedSeq - 1
        if last < head.seq {
            problem = .init(seq: last + 1, reason: "entry missing (the head record says the journal ends at seq \(head.seq))")
        } else if last > head.seq {
            problem = .init(seq: head.seq + 1, reason: "entries beyond the recorded head seq \(head.seq)")
        } else if last > 0, !chain.ends(at: head.hash) {
            problem = .init(seq: last, reason: "entry altered: its hash does not match the recorded head hash")
        }
    }
}
