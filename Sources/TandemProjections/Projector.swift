public import Logging
public import ServiceLifecycle
import Synchronization
public import TandemDomain
public import TandemJournal

/// Keeps the projections up to date with the journal, as a `Service` of `tandem serve`.
///
/// Catches up at start-up, then follows the journal as it grows — woken by the writer after each
/// commit, no polling loop — applying entries in batches, each written with its checkpoint in one
/// transaction. A store of another format version is rebuilt at start-up; a store swapped in by
/// `tandem projections rebuild` is picked up and caught up.
public final class Projector: Service, Sendable {
    private let journal: Journal
    private let location: ProjectionLocation
    private let logger: Logger
    /// The store in use and the last seq applied to it, changed together (a switch to a rebuilt
    /// store moves the applied seq back to that store's checkpoint).
    private struct Current {
        var store: ProjectionStore?
        var applied: UInt64 = 0
    }

    private let current = Mutex(Current())
    /// Wakes readers as ``Current/applied`` moves (reset, not only raised, on a switch).
    private let applied: HeadSignal
    /// The highest seq a reader waits for: an update due to it starts at once.
    private let wanted: HeadSignal

    private let updateInterval: Duration
    /// Times updates, waits and read timeouts.
    private let clock: any MonotonicClock
    /// A fault point for crash tests: called with the last seq of each batch about to be
    /// committed to the store (its journal entries are committed already).
    private let beforeCommit: (@Sendable (_ through: UInt64) -> Void)?

    /// - Parameters:
    ///   - updateInterval: the shortest time between two updates no reader asked for.
    ///   - clock: times updates, waits and read timeouts.
    ///   - beforeCommit: a fault point for crash tests (`nil` in production).
    public init(
        journal: Journal, dataDirectory: String, logger: Logger, updateInterval: Duration = Projector.updateInterval,
        clock: any MonotonicClock = ContinuousClock(), beforeCommit: (@Sendable (_ through: UInt64) -> Void)? = nil
    ) {
        self.journal = journal
        self.updateInterval = updateInterval
        self.clock = clock
        self.beforeCommit = beforeCommit
        self.location = ProjectionLocation(dataDirectory: dataDirectory)
        self.logger = logger
        self.applied = HeadSignal(head: 0)
        self.wanted = HeadSignal(head: 0)
    }

    /// The store in use (opened by ``prepare()``).
    package var store: ProjectionStore? { current.withLock { $0.store } }

    /// Opens the current store (rebuilding it when missing or of another format) and catches up
    /// with the journal. Call before serving reads.
    public func prepare() throws {
        let store = try openOrRebuild()
        use(store, applied: try store.checkpoint())
        var folder = try ProjectionFolder(store: store)
        var lastWholeMetrics = clock.elapsed - Self.wholeMetricsInterval
        try catchUp(&folder, store: store, lastWholeMetrics: &lastWholeMetrics)
    }

    /// The store in use once it includes every entry up to `seq` (read-your-writes), starting
    /// an update at once if it does not yet.
    /// - Throws: ``ProjectionError`` `.lagging` when the projections do not get there within
    ///   `timeout` — never a store that is behind presented as current.
    package func store(through seq: UInt64, timeout: Duration = .seconds(2)) async throws -> ProjectionStore {
        let deadline = clock.elapsed + timeout
        while true {
            let (store, appliedSeq) = current.withLock { ($0.store, $0.applied) }
            if let store, appliedSeq >= seq { return store }
            let now = clock.elapsed
            guard now < deadline else {
                throw ProjectionError(
                    .lagging,
                    "the projections have applied the journal up to seq \(appliedSeq), not yet \(seq); retry shortly"
                )
            }
            wanted.publish(seq)
            // `self.clock`: a plain `clock` stops opening the existential once Glibc (its `clock()`)
            // is visible here (Swift 6.3).
            await applied.wait(beyond: appliedSeq, timeout: min(.milliseconds(100), deadline - now), clock: self.clock)
        }
    }

    /// Makes `store` the one in use, at `applied`, and wakes readers (or makes them wait again).
    private func use(_ store: ProjectionStore, applied seq: UInt64) {
        current.withLock { $0 = Current(store: store, applied: seq) }
        applied.reset(to: seq)
    }

    /// Records that `store` has applied the journal through `seq`, if it is still the one in use.
    private func advance(_ store: ProjectionStore, to seq: UInt64) {
        let inUse = current.withLock { current -> Bool in
            guard current.store === store else { return false }
            current.applied = seq
            return true
        }
        if inUse { applied.publish(seq) }
    }

    public func run() async throws {
        if store == nil { try prepare() }
        await cancelWhenGracefulShutdown {
            // Kept between catch-ups (its metrics and open runs are the store's, in memory), and
            // dropped when the store changes or a write fails: it is then read back from the store.
            var folder: (ProjectionFolder, ProjectionStore)?
            var lastUpdate = self.clock.elapsed - self.updateInterval
            var lastStoreCheck = lastUpdate
            var lastWholeMetrics = lastUpdate - Self.wholeMetricsInterval
            while !Task.isCancelled {
                // Under load, gather some milliseconds of commits per update (each update is a
                // store transaction, and rewrites the records of runs still going), unless a
                // reader waits for an entry not applied yet.
                let due = lastUpdate + self.updateInterval
                let now = self.clock.elapsed
                if due > now { await self.wanted.wait(beyond: self.applied.head, timeout: due - now, clock: self.clock) }
                lastUpdate = self.clock.elapsed
                let seen = self.applied.head
                do {
                    if lastUpdate - lastStoreCheck >= Self.storeCheckInterval {
                        lastStoreCheck = lastUpdate
                        try self.switchIfRebuilt()
                    }
                    guard let store = self.store else { break }
                    if folder == nil || folder?.1 !== store { folder = (try ProjectionFolder(store: store), store) }
                    try self.catchUp(&folder!.0, store: store, lastWholeMetrics: &lastWholeMetrics)
                } catch {
                    folder = nil
                    self.logger.error("projection update failed; retrying", metadata: ["error": "\(error)", "seq": "\(seen)"])
                    try? await self.clock.sleep(for: .seconds(1))
                }
                if self.applied.head == seen {
                    await self.journal.waitForAppend(beyond: seen, timeout: .seconds(1))
                }
            }
        }
    }

    /// The shortest time between two updates of the store that no reader asked for (bounds how
    /// many store commits a busy journal causes); a read of an entry not applied yet starts an
    /// update at once.
    public static let updateInterval: Duration = .milliseconds(50)
    /// How often the live projector stores the whole metrics state; the commits in between store
    /// only what they add to it (the whole state is kilobytes of histograms).
    static let wholeMetricsInterval: Duration = .seconds(1)
    /// How often the projector looks for a store swapped in by `tandem projections rebuild`.
    static let storeCheckInterval: Duration = .milliseconds(200)

    // MARK: Internals

    private func openOrRebuild() throws -> ProjectionStore {
        if let name = location.currentName() {
            do {
                let store = try ProjectionStore(directory: location.path(of: name), name: name, readOnly: false)
                guard let disagreement = try checkpointDisagreement(store) else { return store }
                logger.notice("projection store does not match the journal; rebuilding it from the journal", metadata: ["reason": "\(disagreement)", "store": "\(name)"])
            } catch let error as ProjectionError where error.code == .formatMismatch {
                logger.notice("projection store has another format version; rebuilding it from the journal", metadata: ["error": "\(error.message)"])
            }
        }
        let claim = try location.claimRebuild()
        defer { withExtendedLifetime(claim) {} }
        let name = location.newName()
        let outcome = try ProjectionRebuild.rebuild(journal: journal, location: location, name: name)
        try location.publish(name)
        logger.info("projections built from the journal", metadata: ["events": "\(outcome.events)", "store": "\(name)"])
        return outcome.store
    }

    /// Why `store` cannot be caught up from its checkpoint, or `nil` when it can: after a power
    /// loss with `async` durability (or a journal restored from a backup) the projection may be
    /// of entries the journal does not have — a checkpoint past the head, or at a seq that now
    /// holds another entry. A store written before checkpoint hashes were kept is checked by seq.
    private func checkpointDisagreement(_ store: ProjectionStore) throws -> String? {
        let checkpoint = try store.checkpointWithHash()
        let head = try journal.head()
        if checkpoint.seq > head.seq {
            return "its checkpoint \(checkpoint.seq) is past the journal head \(head.seq)"
        }
        guard let hash = checkpoint.hash, checkpoint.seq > 0 else { return nil }
        let actual = checkpoint.seq == head.seq ? head.hash : try journal.entry(checkpoint.seq).map { Array($0.hash.utf8) }
        return actual == hash ? nil : "the journal entry at its checkpoint \(checkpoint.seq) is not the one it projected"
    }

    func switchIfRebuilt() throws {
        guard let name = location.currentName(), name != store?.name else { return }
        let rebuilt = try ProjectionStore(directory: location.path(of: name), name: name, readOnly: false)
        let checkpoint = try rebuilt.checkpoint()
        use(rebuilt, applied: checkpoint)
        logger.notice("switched to a rebuilt projection store", metadata: ["store": "\(name)", "seq": "\(checkpoint)"])
    }

    /// Applies every journal entry past `folder`'s checkpoint, in batches.
    private func catchUp(_ folder: inout ProjectionFolder, store: ProjectionStore, lastWholeMetrics: inout Duration) throws {
        advance(store, to: folder.applied)
        while true {
            let entries = try journal.entries(from: folder.applied + 1, limit: 4_096)
            guard !entries.isEmpty else { return }
            for entry in entries { try folder.apply(entry, store: store) }
            let now = clock.elapsed
            let whole = now - lastWholeMetrics >= Self.wholeMetricsInterval
            beforeCommit?(folder.applied)
            try folder.flush(to: store, wholeMetrics: whole)
            if whole { lastWholeMetrics = now }
            advance(store, to: folder.applied)
        }
    }
}
