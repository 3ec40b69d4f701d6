import Foundation
import Synchronization
package import TandemJournal

/// Folds the journal from seq 1 into a fresh projection store.
///
/// The runs are split into shards by a hash of their id (``RunShard``), one per core: each shard
/// thread scans the whole journal, folds only its own runs' entries and writes their records; the
/// shards' metrics are merged at the end (they are sums and histograms of disjoint runs) and
/// committed with the checkpoint. Every record depends only on its own run's entries in seq order,
/// so the store equals a single-threaded fold byte for byte.
package enum ProjectionRebuild {
    /// What a rebuild did.
    package struct Outcome: Sendable {
        package var store: ProjectionStore
        package var events: UInt64
        package var seconds: Double
    }

    /// Rebuilds into a new store named `name` in `location`, through `through` (default: the head
    /// at the start). Does not publish it.
    /// - Parameters:
    ///   - shards: how many threads fold in parallel (default: the active cores).
    ///   - entriesPerCommit: entries a shard folds between two commits of its records. Small
    ///     commits are cheaper in all: LMDB mallocs a transaction's dirty pages and frees them at
    ///     commit, and a commit of 131,072 entries' records (tens of megabytes) took fresh,
    ///     zero-filled memory from the kernel every time (40,000 page faults per 1M entries,
    ///     against 9,800 at 4,096 entries, whose pages LMDB reuses; CPU per rebuild 0.9 of it).
    ///   - progress: called from time to time with (seq reached, target), from one thread at a time
    ///     (not necessarily the caller's).
    package static func rebuild(
        journal: Journal, location: ProjectionLocation, name: String, through: UInt64? = nil,
        shards: Int = ProcessInfo.processInfo.activeProcessorCount, entriesPerCommit: Int = 4_096,
        progress: @Sendable (UInt64, UInt64) -> Void = { _, _ in }
    ) throws -> Outcome {
        let target = try through ?? journal.head().seq
        // A store being rebuilt is invisible until published, so its commits need no fsync: one
        // sync at the end, before it can be published, makes it durable.
        let store = try ProjectionStore(directory: location.path(of: name), name: name, readOnly: false, syncCommits: false)
        let started = ContinuousClock.now
        let parts = RunShard.split(into: min(max(1, shards), 16))
        let outcomes = Mutex<[Result<(metrics: MetricsState, events: UInt64), any Error>?]>(Array(repeating: nil, count: parts.count))
        let failed = Atomic<Bool>(false)
        // Progress is the furthest seq any shard has folded (shards scan the same journal at about
        // the same pace; a shard may own few runs), reported under a lock: one caller at a time.
        let furthest = Mutex<UInt64>(0)
        DispatchQueue.concurrentPerform(iterations: parts.count) { index in
            let outcome = Result {
                try fold(parts[index], of: journal, through: target, into: store, entriesPerCommit: max(1, entriesPerCommit), stop: failed) { seq in
                    furthest.withLock { reported in
                        guard seq > reported else { return }
                        reported = seq
                        progress(seq, target)
                    }
                }
            }
            if case .failure = outcome { failed.store(true, ordering: .relaxed) }
            outcomes.withLock { $0[index] = outcome }
        }
        var metrics = MetricsState()
        var events: UInt64 = 0
        for outcome in outcomes.withLock({ $0 }) {
            guard let outcome else { continue }
            let part = try outcome.get()
            metrics.merge(part.metrics)
            events += part.events
        }
        let targetHash = try target == 0 ? nil : journal.entry(target).map { Array($0.hash.utf8) }
        try store.commit([], state: ProjectionStore.State(metrics: .whole(metrics), checkpoint: target, checkpointHash: targetHash))
        try store.sync()
        progress(target, target)
        return Outcome(store: store, events: events, seconds: started.duration(to: .now).seconds)
    }

    /// Folds the entries of `shard`'s runs and commits their records (not the metrics).
    private static func fold(
        _ shard: RunShard, of journal: Journal, through target: UInt64, into store: ProjectionStore, entriesPerCommit: Int,
        stop: borrowing Atomic<Bool>, reached: (UInt64) -> Void
    ) throws -> (metrics: MetricsState, events: UInt64) {
        // ~10 entries per run; the filter only has to be large enough to keep lookups rare.
        var folder = try ProjectionFolder(freshStore: store, expectedRuns: Int(target) / 8 / shard.count + 1)
        var events: UInt64 = 0
        var sinceCommit = 0
        var nextReport: UInt64 = 1 << 16
        try journal.scanEntries(from: 1, through: target, in: shard) { entry in
            try folder.apply(entry, store: store)
            events += 1
            sinceCommit += 1
            if sinceCommit == entriesPerCommit {
                try folder.flushRecords(to: store)
                sinceCommit = 0
            }
            if entry.seq >= nextReport {
                reached(entry.seq)
                nextReport = entry.seq + (1 << 16)
                if stop.load(ordering: .relaxed) { return false }
            }
            return true
        }
        try folder.flushRecords(to: store)
        return (folder.metrics, events)
    }
}
