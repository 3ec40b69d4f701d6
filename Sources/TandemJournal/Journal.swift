public import Logging
import Synchronization
import TandemStorage

/// tandem's source of truth: an append-only, hash-chained journal of domain events in LMDB.
///
/// Appends from any number of tasks are group-committed by one writer thread and acknowledged only
/// once durable. Reads run from any task, and from other processes sharing the data directory
/// while this one writes.
public final class Journal: Sendable {
    /// The configuration the journal was opened with.
    public let configuration: JournalConfiguration
    let storage: JournalStore
    private let writer: JournalWriter?
    let signal: HeadSignal
    let runSignals = RunSignals()
    private let counters = CommitCounters()
    /// Entries, bytes and open runs as of a seq, kept by the writer's commits (``liveStats()``).
    let tally = JournalTally.Cell()
    /// How many times this journal has counted its size by reading every entry (see ``sizeCounts``).
    let scans = Atomic<Int>(0)

    /// How many times this journal counted its size by reading every entry (once when opened for
    /// writing, then only after another process appended): tests use it to show that
    /// ``liveStats()`` answers from the writer's counts.
    package var sizeCounts: Int { scans.load(ordering: .relaxed) }

    /// Opens the journal in `configuration.directory`, creating it unless read-only.
    /// - Throws: ``JournalError`` when the environment cannot be opened or has another format.
    public init(_ configuration: JournalConfiguration, logger: Logger) throws {
        self.configuration = configuration
        let storage = try JournalStore(configuration, logger: logger)
        self.storage = storage
        let head = try storage.read { try JournalHead.read($0, storage) }
        let signal = HeadSignal(head: head.seq)
        self.signal = signal
        if configuration.readOnly {
            writer = nil
        } else {
            // Before the writer starts: it catches the index up from the checkpoint.
            _ = try RunIndex.rebuildIfDamaged(storage, logger: logger)
            // The one scan of the journal's sizes in this process's life: from here on the
            // writer's commits keep them (GET /api/journal answers without a scan).
            let tally = try Self.countedTally(storage: storage, head: head.seq, scans: scans)
            self.tally.value.withLock { $0 = tally }
            let counters = self.counters
            let tallyCell = self.tally
            let writer = JournalWriter(
                storage: storage, configuration: configuration, logger: logger, runSignals: runSignals
            ) { head, observation in
                counters.value.withLock { totals in
                    totals.last = observation
                    totals.commits += 1
                    totals.entries += UInt64(observation.entries)
                    totals.lastFailure = nil
                }
                tallyCell.value.withLock { $0.record(head: head, observation) }
                signal.publish(head)
            }
            writer.onFailure = { error in counters.value.withLock { $0.lastFailure = error } }
            writer.start()
            self.writer = writer
        }
    }

    deinit {
        writer?.close()
    }

    /// Commits what is queued and stops the writer; later appends fail with `.closed`.
    public func close() {
        writer?.close()
    }

    // MARK: Appending

    /// Appends `entries` in order, contiguously, and returns them once committed (durable in `sync`).
    /// - Throws: ``JournalError`` (`.mapFull`, `.diskFull`, `.closed`, `.environment`); on a throw
    ///   none of the entries was committed.
    public func append(_ entries: [PendingEntry]) async throws -> [JournalEntry] {
        guard let writer else {
            throw JournalError(.closed, "the journal was opened read-only")
        }
        guard !entries.isEmpty else { return [] }
        // The writer resumes every request exactly once (committed or failed), so the unchecked
        // continuation is safe and spares the hot path the checked one's bookkeeping.
        return try await withUnsafeThrowingContinuation { continuation in
            writer.submit(entries, continuation: continuation)
        }
    }

    /// Commits a write that appends nothing (64 KiB of fresh pages outside the journal's entries),
    /// to learn whether the journal can take writes again after a failure; success clears
    /// ``lastAppendFailure``.
    /// - Throws: ``JournalError`` while the journal still cannot write.
    public func probeWrite() async throws {
        guard let writer else {
            throw JournalError(.closed, "the journal was opened read-only")
        }
        _ = try await withUnsafeThrowingContinuation { continuation in
            writer.submit([], probe: true, continuation: continuation)
        }
    }

    /// Appends one entry; see ``append(_:)-([PendingEntry])``.
    public func append(_ entry: PendingEntry) async throws -> JournalEntry {
        let committed = try await append([entry])
        return committed[0]
    }

    /// The size of the last group commit and how long it took.
    public var lastCommitObservation: (entries: Int, seconds: Double) {
        let observation = counters.value.withLock { $0.last }
        return (observation.entries, observation.seconds)
    }

    /// Why the last append failed, when no commit has succeeded since; `nil` while appends work.
    public var lastAppendFailure: JournalError? {
        counters.value.withLock { $0.lastFailure }
    }

    /// Reader slots of dead processes freed by this process's writer (checked every
    /// ``JournalConfiguration/staleReaderCheckInterval``).
    public var staleReaderSlotsFreed: Int {
        writer?.staleReadersFreed.load(ordering: .relaxed) ?? 0
    }

    /// Whether the writer thread waits for work with nothing queued: the housekeeping after its
    /// last commit (index flush, async sync, reader check) is over. Tests poll it before moving an
    /// injected clock, so that the housekeeping does not see the clock move under it.
    package var writerIsIdle: Bool {
        writer?.isIdle ?? true
    }

    /// Commits and entries written by this process since the journal was opened.
    public var commitTotals: (commits: UInt64, entries: UInt64) {
        counters.value.withLock { ($0.commits, $0.entries) }
    }

    // MARK: Reading

    /// The last committed seq and its hash, as stored.
    public func head() throws -> JournalHead {
        try storage.read { try JournalHead.read($0, storage) }
    }

    /// The entry with sequence number `seq`, if there is one.
    public func entry(_ seq: UInt64) throws -> JournalEntry? {
        try storage.read { txn in
            guard let line = try txn.get(SeqKey.encode(seq), in: storage.databases.entries) else { return nil }
            return try JournalEntry(line: line)
        }
    }

    /// Up to `limit` entries with seq in `from...through`, in order.
    public func entries(from: UInt64, through: UInt64 = .max, limit: Int = .max) throws -> [JournalEntry] {
        var result: [JournalEntry] = []
        try scan(from: from, through: through) { _, line in
            result.append(try JournalEntry(line: Array(line)))
            return result.count < limit
        }
        return result
    }

    /// Calls `body` with each stored line in `from...through`, in seq order, until it returns false.
    ///
    /// The bytes are only valid inside `body`. Each chunk of `chunkSize` entries is read in its own
    /// short read transaction, so a long scan never pins old pages.
    public func scan(
        from: UInt64,
        through: UInt64 = .max,
        chunkSize: Int = 8_192,
        _ body: (_ key: UInt64, _ line: UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        var next = max(from, 1)
        var more = true
        while more, next <= through {
            var seen = 0
            try storage.read { txn in
                try txn.walk(storage.databases.entries, from: SeqKey.encode(next)) { key, value in
                    let seq = SeqKey.decode(key)
                    guard seq <= through else {
                        more = false
                        return false
                    }
                    // A key beyond any journal's range (damaged: no line can carry it) ends the scan.
                    guard try body(seq, value), seq <= JournalEntry.largestSeq else {
                        more = false
                        return false
                    }
                    next = seq + 1
                    seen += 1
                    return seen < chunkSize
                }
            }
            if seen < chunkSize { more = false }
        }
    }

    /// Calls `body` with each entry in `from...through` whose run is in `shard`, in seq order, until
    /// it returns false. Entries of other shards are skipped without being copied.
    /// - Throws: ``JournalError`` `.invalidEntry` for a stored line that is not a canonical entry.
    public func scanEntries(
        from: UInt64,
        through: UInt64 = .max,
        in shard: RunShard = .all,
        _ body: (JournalEntry) throws -> Bool
    ) throws {
        try scan(from: from, through: through) { _, line in
            // Another shard's entry is only located, not validated: the shard its located run id
            // falls in parses it in full (and fails on a malformed line), whatever the bytes are.
            if shard.count > 1, let run = EntryLine.runIDField(of: line),
               !shard.contains(runIDBytes: UnsafeRawBufferPointer(rebasing: line[run])) {
                return true
            }
            let layout = try EntryLine.parse(line)
            guard shard.contains(runIDBytes: UnsafeRawBufferPointer(rebasing: line[layout.runID])) else { return true }
            return try body(JournalEntry(seq: layout.seq, line: Array(line), layout: layout))
        }
    }

    /// The seqs of every entry of `run`, in order; empty when the run is unknown.
    public func seqs(of run: RunID) throws -> [UInt64] {
        try storage.read { txn in try RunIndex.seqs(of: run, txn, storage) }
    }

    /// Every entry of `run` with a seq greater than `after`, in order; empty when the run is
    /// unknown. Only the run's index past `after` and the journal's entries past both `after` and
    /// the index checkpoint are read.
    public func entries(of run: RunID, after: UInt64 = 0) throws -> [JournalEntry] {
        try storage.read { txn in
            try Self.indexedEntries(RunIndex.seqs(of: run, after: after, txn, storage), of: run, txn, storage)
        }
    }

    /// The entries up to `through` of each of `runs` that has any, in seq order, read in one
    /// snapshot: the run index for what it covers, then one scan of the entries past it for all of
    /// them (``entries(of:after:)`` per run would scan that tail once per run).
    public func entries(of runs: Set<RunID>, through: UInt64) throws -> [RunID: [JournalEntry]] {
        guard !runs.isEmpty else { return [:] }
        return try storage.read { txn in
            var entries: [RunID: [JournalEntry]] = [:]
            for (run, seqs) in try RunIndex.seqs(of: runs, through: through, txn, storage) {
                entries[run] = try Self.indexedEntries(seqs, of: run, txn, storage)
            }
            return entries
        }
    }

    /// Which of the runs in `openings` (a run and the seq of one of its entries) have an entry
    /// before that seq, read in one snapshot (the run index, then a scan of what it does not
    /// cover yet). A reader that folds runs from their `run_started` uses it to tell a run that
    /// opens there from one whose id was used before.
    public func runsWithEntries(before openings: [RunID: UInt64]) throws -> Set<RunID> {
        guard !openings.isEmpty else { return [] }
        return try storage.read { txn in try RunIndex.runs(withEntriesBefore: openings, txn, storage) }
    }

    /// The entries at `seqs`, which the run index names for `run`.
    private static func indexedEntries(_ seqs: [UInt64], of run: RunID, _ txn: borrowing ReadTransaction, _ storage: JournalStore) throws -> [JournalEntry] {
        try seqs.map { seq in
            guard let line = try txn.get(SeqKey.encode(seq), in: storage.databases.entries) else {
                throw JournalError(.corrupted, "the run index of \(run) names a missing entry", seq: seq)
            }
            return try JournalEntry(line: line)
        }
    }

    /// The last seq the run index covers; later entries are found by scanning.
    var indexedThrough: UInt64 {
        get throws { try storage.read { try RunIndex.indexedThrough($0, storage) } }
    }

    /// Runs whose opening entry was appended but whose closing entry was not, oldest first, with
    /// the seq of each one's first entry.
    public func openRuns() throws -> [(run: RunID, openedAt: UInt64)] {
        try storage.read { txn in try RunIndex.openRuns(txn, storage) }
    }

    /// Suspends until the journal's head is beyond `seq` (as seen by this process), or `timeout`
    /// passes on the configuration's ``JournalConfiguration/monotonicClock``.
    ///
    /// Appends by this process wake the waiter at once; appends by another process are noticed
    /// by the caller re-reading after the timeout.
    public func waitForAppend(beyond seq: UInt64, timeout: Duration) async {
        await signal.wait(beyond: seq, timeout: timeout, clock: configuration.monotonicClock)
    }

    /// Suspends until an entry of `run` with a seq greater than `seq` is committed by this
    /// process, or `timeout` passes, within a ``RunWatch`` of `run` begun before `seq` was read.
    /// Commits of other runs do not wake the caller; appends by another process are noticed by
    /// the caller re-reading after the timeout.
    public func waitForAppend(to watch: RunWatch, beyond seq: UInt64, timeout: Duration) async {
        await runSignals.wait(watch, beyond: seq, timeout: timeout, clock: configuration.monotonicClock)
    }

    /// Starts noting the commits of `run` for ``waitForAppend(to:beyond:timeout:)``; the watch
    /// ends when the returned token is released.
    public func watch(_ run: RunID) -> RunWatch {
        runSignals.watch(run)
    }

    /// The entries from `seq` on: what is stored, then each new entry as it is committed, until
    /// the consuming task is cancelled.
    /// - Parameter pollInterval: how often to look for entries appended by another process.
    public func follow(from seq: UInt64, pollInterval: Duration = .milliseconds(200)) -> JournalFollower {
        JournalFollower(journal: self, next: max(seq, 1), pollInterval: pollInterval)
    }
}

/// The writer's commit counters, shared with the writer's callback.
private final class CommitCounters: Sendable {
    struct Totals {
        var last = JournalWriter.CommitObservation(entries: 0, seconds: 0)
        var commits: UInt64 = 0
        var entries: UInt64 = 0
        var lastFailure: JournalError?
    }

    let value = Mutex(Totals())
}

/// An `AsyncSequence` over journal entries from a seq on, live: see ``Journal/follow(from:pollInterval:)``.
public struct JournalFollower: AsyncSequence, Sendable {
    public typealias Element = JournalEntry

    let journal: Journal
    let next: UInt64
    let pollInterval: Duration

    public func makeAsyncIterator() -> Iterator {
        Iterator(journal: journal, next: next, pollInterval: pollInterval)
    }

    /// Yields buffered entries, reading the next chunk or waiting for appends when it runs dry.
    public struct Iterator: AsyncIteratorProtocol {
        let journal: Journal
        var next: UInt64
        let pollInterval: Duration
        var buffer: [JournalEntry] = []
        var index = 0

        public mutating func next() async throws -> JournalEntry? {
            while index == buffer.count {
                try Task.checkCancellation()
                buffer = try journal.entries(from: next, limit: 1_024)
                index = 0
                if buffer.isEmpty {
                    await journal.waitForAppend(beyond: next - 1, timeout: pollInterval)
                }
            }
            let entry = buffer[index]
            index += 1
            next = entry.seq + 1
            return entry
        }
    }
}
