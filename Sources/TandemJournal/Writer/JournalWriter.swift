import Foundation
import Logging
import Synchronization
import TandemStorage

/// The journal's single writer: one OS thread that owns every LMDB write transaction.
///
/// Appending tasks enqueue requests and suspend; the thread drains everything queued into one write
/// transaction (group commit), assigns seqs, chains hashes, commits (one fsync in `sync`
/// durability) and only then resumes the callers with their committed entries. LMDB requires a
/// write transaction to begin and commit on the same thread, which is why this is a thread and not
/// an actor.
///
/// The run index is brought up to date by the same thread in transactions of its own, every
/// ``JournalConfiguration/indexInterval`` (see ``RunIndexer``): journal commits write only the
/// entries, their lifecycle marks and the head.
///
/// `@unchecked Sendable`: `queue`, `closed`, `stopped` and `writerWaiting` are read and written
/// only while holding `condition`; `onFailure` is set before ``start()`` and only read after; every
/// other mutable property (`lastMicros`, `timestamps`, `dirtySince`, `syncFailure`, `indexer`,
/// `lastIndexFlush`, `lastReaderCheck`, `failingWork`) is touched only by the writer thread.
///
/// Its intervals are timed on ``JournalConfiguration/monotonicClock``: the thread cannot suspend,
/// so it reads the clock and waits on its condition for the time left (with a manual clock in
/// tests, it then looks again when the next request wakes it).
final class JournalWriter: @unchecked Sendable {
    /// One caller's append: its entries and the continuation to resume after the commit.
    struct Request {
        var entries: [PendingEntry]
        var continuation: UnsafeContinuation<[JournalEntry], any Error>
        /// A write probe: rewrites ``JournalWriter/probeValue`` instead of appending (see
        /// ``Journal/probeWrite()``).
        var probe = false
    }

    /// What a probe writes: as many fresh pages as a large append needs, so that it fails
    /// while such an append would (free pages inside the file can absorb a smaller write).
    private static let probeValue = [UInt8](repeating: 0, count: 64 * 1024)
    private static let probeKey = Array("write-probe".utf8)

    /// Size and duration of one group commit, for gauges and the benchmark.
    struct CommitObservation: Sendable {
        var entries: Int
        var seconds: Double
        /// The committed lines' bytes, and the runs the commit opened and closed (for ``JournalTally``).
        var bytes: UInt64 = 0
        var opened: [RunID] = []
        var closed: [RunID] = []
    }

    private let storage: JournalStore
    private let configuration: JournalConfiguration
    private let logger: Logger
    private let onCommit: @Sendable (_ head: UInt64, _ observation: CommitObservation) -> Void
    private let runSignals: RunSignals
    /// Told of every failed commit (set before ``start()``).
    var onFailure: @Sendable (JournalError) -> Void = { _ in }
    private let condition = NSCondition()
    private var queue: [Request] = []
    private var closed = false
    private var stopped = false
    private var writerWaiting = false
    private var lastMicros: Int64 = 0
    private var timestamps = TimestampFormatter()
    /// The configuration's clock, read as the time since the writer was made.
    private let elapsed: @Sendable () -> Duration
    private var dirtySince: Duration?
    /// The last background sync's failure (`async` durability), until a sync succeeds.
    private var syncFailure: JournalError?
    private var indexer: RunIndexer
    private var lastIndexFlush: Duration
    private var lastReaderCheck: Duration
    /// Housekeeping that failed, by name, with the failure last logged (see `logFailure`).
    private var failingWork: [String: String] = [:]
    /// Reader slots of dead processes freed so far.
    let staleReadersFreed = Atomic<Int>(0)

    init(
        storage: JournalStore,
        configuration: JournalConfiguration,
        logger: Logger,
        runSignals: RunSignals,
        onCommit: @escaping @Sendable (UInt64, CommitObservation) -> Void
    ) {
        self.runSignals = runSignals
        self.storage = storage
        self.configuration = configuration
        self.logger = logger
        self.onCommit = onCommit
        self.indexer = RunIndexer(storage: storage, beforeFlush: configuration.beforeRunIndexFlush)
        self.elapsed = elapsedReader(configuration.monotonicClock)
        self.lastIndexFlush = elapsed()
        self.lastReaderCheck = lastIndexFlush
    }

    /// Starts the writer thread.
    func start() {
        let thread = Thread { [self] in self.run() }
        thread.name = "tandem-journal-writer"
        thread.start()
    }

    /// Queues `entries` (or a write probe); `continuation` is resumed once they are committed (or failed).
    func submit(_ entries: [PendingEntry], probe: Bool = false, continuation: UnsafeContinuation<[JournalEntry], any Error>) {
        condition.lock()
        if closed {
            condition.unlock()
            continuation.resume(throwing: JournalError(.closed, "the journal is closed; no more events can be appended"))
            return
        }
        queue.append(Request(entries: entries, continuation: continuation, probe: probe))
        // While the writer is committing it finds this request when it next looks: no wake-up needed.
        if writerWaiting { condition.signal() }
        condition.unlock()
    }

    /// Commits what is queued, indexes it, stops the thread and waits for it.
    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        while !stopped { condition.wait() }
        condition.unlock()
    }

    /// Whether the thread waits for work and none is queued (``Journal/writerIsIdle``).
    var isIdle: Bool {
        condition.lock()
        defer { condition.unlock() }
        return writerWaiting && queue.isEmpty
    }

    // MARK: The writer thread

    private func run() {
        logFailure("catch up the run index") { try indexer.catchUp() }
        while true {
            condition.lock()
            writerWaiting = true
            while queue.isEmpty && !closed {
                guard let deadline = nextDeadline() else {
                    condition.wait()
                    continue
                }
                let now = elapsed()
                if now >= deadline { break }
                // Woken or timed out, the loop looks at the queue and the clock again.
                _ = condition.wait(until: Date(timeIntervalSinceNow: (deadline - now).seconds))
            }
            writerWaiting = false
            let batch = takeBatch()
            let finished = closed && queue.isEmpty && batch.isEmpty
            condition.unlock()

            if !batch.isEmpty {
                commit(batch)
            }
            flushIndexIfDue(force: finished)
            syncIfDue(force: finished)
            clearStaleReadersIfDue()
            if finished { break }
        }
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    /// When the thread must wake without a request: the next index flush, async sync or
    /// stale-reader check.
    private func nextDeadline() -> Duration? {
        var deadlines: [Duration] = [lastReaderCheck + configuration.staleReaderCheckInterval]
        if indexer.hasPendingWork { deadlines.append(lastIndexFlush + configuration.indexInterval) }
        if let dirtySince { deadlines.append(dirtySince + configuration.syncInterval) }
        return deadlines.min()
    }

    /// Takes queued requests up to the batch limit (always at least one). Called under `condition`.
    private func takeBatch() -> [Request] {
        var count = 0
        var taken = 0
        for request in queue {
            // A probe commits alone: if it does not fit, it must not fail appends that would.
            if taken > 0 && (request.probe || queue[0].probe) { break }
            if taken > 0 && count + request.entries.count > configuration.maxBatchEntries { break }
            count += request.entries.count
            taken += 1
        }
        let batch = Array(queue.prefix(taken))
        queue.removeFirst(taken)
        return batch
    }

    private func flushIndexIfDue(force: Bool) {
        guard indexer.hasPendingWork else { return }
        guard force || indexer.pendingCount >= configuration.maxBatchEntries * 4
            || elapsed() >= lastIndexFlush + configuration.indexInterval
        else { return }
        lastIndexFlush = elapsed()
        logFailure("update the run index") { try indexer.flush() }
    }

    private func syncToDisk() throws {
        if let override = configuration.syncOverride {
            try override()
        } else {
            try storage.sync()
        }
    }

    private func clearStaleReadersIfDue() {
        let now = elapsed()
        guard now >= lastReaderCheck + configuration.staleReaderCheckInterval else { return }
        lastReaderCheck = now
        let freed: Int
        do {
            freed = try storage.clearStaleReaders()
        } catch {
            logger.warning("could not check for readers of dead processes", metadata: ["error": "\(error)"])
            return
        }
        if freed > 0 {
            staleReadersFreed.add(freed, ordering: .relaxed)
            logger.notice("freed reader slots of dead processes", metadata: ["slots": "\(freed)"])
        }
    }

    private func syncIfDue(force: Bool) {
        guard configuration.durability == .async, let since = dirtySince else { return }
        guard force || elapsed() >= since + configuration.syncInterval else { return }
        do {
            try syncToDisk()
            dirtySince = nil
            if syncFailure != nil { logger.notice("journal sync succeeds again") }
            syncFailure = nil
        } catch {
            let failure = error as? JournalError ?? JournalError(.io, "\(error)")
            if syncFailure == nil {
                logger.error("journal sync failed: appends are refused until a sync succeeds", metadata: ["error": "\(failure)"])
            }
            syncFailure = failure
            onFailure(failure)
            // Retried after another interval, not at once: a failing device is not hammered.
            dirtySince = elapsed()
        }
    }

    /// Runs the housekeeping `body` (named by `what`; its writes grow the map as the storage's
    /// policy allows). A failure is retried at the next flush (the index is derived and rebuilt at
    /// start-up) and logged once until it changes or `body` succeeds again: at high load a failing
    /// index flush is retried on every commit.
    private func logFailure(_ what: String, _ body: () throws -> Void) {
        do {
            try body()
            if failingWork.removeValue(forKey: what) != nil { logger.notice("journal can \(what) again") }
        } catch {
            let description = "\(error)"
            guard failingWork[what] != description else { return }
            failingWork[what] = description
            logger.error("journal could not \(what)", metadata: ["error": "\(description)"])
        }
    }

    private func commit(_ batch: [Request]) {
        let started = elapsed()
        if let failure = syncFailure {
            // What the failed sync should have made durable may not be: no new commit is
            // acknowledged until a sync succeeds (so `async` never hides a failing disk).
            do {
                try syncToDisk()
                syncFailure = nil
                dirtySince = nil
                logger.notice("journal sync succeeds again")
            } catch {
                fail(batch, with: failure)
                return
            }
        }
        do {
            // A full map grows (up to `maxMapBytes`) inside the storage's write, which runs this again.
            let (results, head) = try storage.write { txn in try self.write(batch, in: txn) }
            let committedAt = elapsed()
            let seconds = (committedAt - started).seconds
            if configuration.durability == .async, dirtySince == nil { dirtySince = committedAt }
            let watching = runSignals.isWatching
            var lastSeqs: [RunID: UInt64] = [:]
            var observation = CommitObservation(entries: 0, seconds: seconds)
            for (request, entries) in zip(batch, results) {
                for (pending, committed) in zip(request.entries, entries) {
                    indexer.record(run: pending.runID, seq: committed.seq, lifecycle: pending.lifecycle)
                    if watching { lastSeqs[pending.runID] = committed.seq }
                    observation.entries += 1
                    observation.bytes += UInt64(committed.line.count)
                    switch pending.lifecycle {
                    case .none: break
                    case .opensRun: observation.opened.append(pending.runID)
                    case .closesRun: observation.closed.append(pending.runID)
                    }
                }
            }
            // The journal's state (head, no failure) is updated before any appender resumes,
            // so what an appender reads next already reflects its commit.
            onCommit(head, observation)
            if watching { runSignals.publish(lastSeqs) }
            for (request, entries) in zip(batch, results) {
                request.continuation.resume(returning: entries)
            }
        } catch {
            fail(batch, with: error)
        }
    }

    private func fail(_ batch: [Request], with error: any Error) {
        logger.error(
            "journal append failed",
            metadata: ["error": "\(error)", "entries": "\(batch.reduce(0) { $0 + $1.entries.count })"]
        )
        onFailure(error as? JournalError ?? JournalError(.environment, "\(error)"))
        for request in batch {
            request.continuation.resume(throwing: error)
        }
    }

    /// Writes the batch inside `txn`; returns each request's committed entries and the new head seq.
    private func write(_ batch: [Request], in txn: borrowing WriteTransaction) throws -> ([[JournalEntry]], UInt64) {
        let stored = try JournalHead.read(txn.reads, storage)
        let databases = storage.databases
        var seq = stored.seq
        var prev = stored.hash
        var results: [[JournalEntry]] = []
        results.reserveCapacity(batch.count)
        for request in batch {
            if request.probe { try txn.put(Self.probeKey, Self.probeValue, in: storage.meta) }
            var committed: [JournalEntry] = []
            committed.reserveCapacity(request.entries.count)
            for entry in request.entries {
                seq += 1
                let micros = max(configuration.clock.microsecondsSinceEpoch(), lastMicros)
                var line: [UInt8] = []
                let layout = EntryLine.build(
                    into: &line, seq: seq, timestamp: timestamps.format(microseconds: micros),
                    entry: entry, prev: prev
                )
                let key = SeqKey.encode(seq)
                try txn.put(key, line, in: databases.entries, appending: true)
                if let mark = LifecycleMark(entry.lifecycle) {
                    try txn.put(key, [mark.rawValue], in: databases.marks, appending: true)
                }
                line.withUnsafeBytes { ChainHash.writeHex(of: $0, into: &prev) }
                lastMicros = micros
                committed.append(JournalEntry(seq: seq, line: line, layout: layout))
            }
            results.append(committed)
        }
        try JournalHead(seq: seq, hash: prev).write(txn, storage)
        return (results, seq)
    }
}

/// `clock` read as the time since this call: what a thread, which cannot suspend on a clock,
/// times its work with.
func elapsedReader<C: Clock<Duration>>(_ clock: C) -> @Sendable () -> Duration {
    let origin = clock.now
    return { origin.duration(to: clock.now) }
}

extension Duration {
    /// The duration in seconds, as a `Double`.
    package var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}
