package import TandemJournal

/// Folds journal entries into records and metrics and writes them to a ``ProjectionStore``.
///
/// Used by both the live projector and rebuilds, so both apply exactly the same rules. Runs not in
/// the working set are loaded from the store the first time an entry of theirs arrives.
package struct ProjectionFolder {
    /// The metrics as of the last flush — in a rebuild's folder, of every entry applied.
    package private(set) var metrics: MetricsState
    /// What the entries applied since the last flush add to ``metrics`` (`nil` in a rebuild's
    /// folder, which stores the whole state once at the end and so applies entries to it directly).
    private var metricsAdded: MetricsState? = MetricsState()
    package private(set) var applied: UInt64
    /// The last entry applied (its hash is stored with the checkpoint at the next flush).
    private var lastApplied: JournalEntry?
    /// Runs being folded: the record and where the store's indexes have it.
    private var working: [String: Slot] = [:]
    /// Runs changed since the last flush, each once (its slot's `isDirty` says it is listed).
    private var dirty: [String] = []
    /// For a folder that owns its runs in a fresh store: the runs it wrote. A run not in it has
    /// no stored record, so its first entry needs no lookup. `nil`: always look up.
    private var written: RunFilter?

    /// A class, so that folding an entry changes the record where it lies in `working`.
    private final class Slot {
        var record: DualRunRecord
        /// The index position of the stored version; `nil` when the run was never stored.
        var stored: (status: RunRecordStatus, startedAt: String)?
        var isDirty = false

        init(record: DualRunRecord, stored: (status: RunRecordStatus, startedAt: String)?) {
            self.record = record
            self.stored = stored
        }

        /// The record as the store takes it (read in place, not copied).
        var change: ProjectionStore.Change {
            ProjectionStore.Change(record, previous: stored)
        }
    }

    /// Starts from what `store` holds.
    package init(store: ProjectionStore) throws {
        metrics = try store.metrics()
        applied = try store.checkpoint()
    }

    /// Starts a folder whose runs have no record in `store` but those it writes itself: a
    /// rebuild shard's, in a fresh store. `expectedRuns` sizes its note of the runs it wrote.
    package init(freshStore store: ProjectionStore, expectedRuns: Int) throws {
        try self.init(store: store)
        written = RunFilter(bits: expectedRuns * 10)
        metricsAdded = nil
    }

    /// Applies `entry`; entries at or below the checkpoint are skipped (never counted twice).
    package mutating func apply(_ entry: JournalEntry, store: ProjectionStore) throws {
        guard entry.seq > applied else { return }
        let run = entry.runID.rawValue
        let event = FoldedEvent(entry.typeUTF8)
        let data = JSONFields(entry.data)
        if let slot = working[run] {
            RecordFold.apply(entry, event: event, data: data, to: &slot.record)
            if !slot.isDirty {
                slot.isDirty = true
                dirty.append(run)
            }
        } else {
            let slot: Slot
            if written?.mayContain(run) ?? true, let stored = try store.record(run) {
                slot = Slot(record: stored, stored: (stored.status, stored.startedAt ?? ProjectionStore.epoch))
            } else {
                slot = Slot(record: RecordFold.opening(run, at: entry), stored: nil)
            }
            RecordFold.apply(entry, event: event, data: data, to: &slot.record)
            slot.isDirty = true
            working[run] = slot
            dirty.append(run)
        }
        if metricsAdded != nil {
            metricsAdded!.apply(event, data: data)
        } else {
            metrics.apply(event, data: data)
        }
        applied = entry.seq
        lastApplied = entry
    }

    /// Writes what changed since the last flush, with the metrics and the checkpoint, in one
    /// transaction; then forgets finished runs.
    /// - Parameter wholeMetrics: store the whole metrics state; otherwise only what this flush
    ///   adds to it (kilobytes less to write: the live projector stores the whole now and then).
    package mutating func flush(to store: ProjectionStore, wholeMetrics: Bool = true) throws {
        guard let added = metricsAdded else {
            return try flush(to: store, state: ProjectionStore.State(metrics: .whole(metrics), checkpoint: applied, checkpointHash: appliedHash))
        }
        var merged = metrics
        merged.merge(added)
        try flush(to: store, state: ProjectionStore.State(
            metrics: wholeMetrics ? .whole(merged) : .added(added), checkpoint: applied, checkpointHash: appliedHash
        ))
        metrics = merged
        metricsAdded = MetricsState()
    }

    /// The hash of the entry at ``applied``, when this folder applied it.
    private var appliedHash: [UInt8]? {
        lastApplied.map { Array($0.hash.utf8) }
    }

    /// Writes the records that changed since the last flush but not the metrics and checkpoint:
    /// for a rebuild shard, whose metrics are only a part until merged with the other shards'.
    package mutating func flushRecords(to store: ProjectionStore) throws {
        try flush(to: store, state: nil)
    }

    private mutating func flush(to store: ProjectionStore, state: ProjectionStore.State?) throws {
        dirty.sort()
        let slots = dirty.map { working[$0]! }
        try store.commit(slots.map(\.change), state: state)
        for (run, slot) in zip(dirty, slots) {
            written?.insert(run)
            if slot.record.isTerminal {
                working[run] = nil
            } else {
                slot.stored = (slot.record.status, slot.record.startedAt ?? ProjectionStore.epoch)
                slot.isDirty = false
            }
        }
        dirty.removeAll(keepingCapacity: true)
        if working.count > 100_000 {
            working.removeAll()
        }
    }

    /// Entries applied since the last flush.
    package var hasUnflushedChanges: Bool { !dirty.isEmpty }
}
