package import TandemJournal

/// Folds journal entries into records and metrics and writes them to a ``ProjectionStore``.
///
/// Used by both the live projector and rebuilds, so both apply exactly the same rules. Runs not in
/// the working set are loaded from the store the first time an entry of theirs arrives.
package struct ProjectionFolder {
    package private(set) var metrics: MetricsState
    package private(set) var applied: UInt64
    private var working: [String: DualRunRecord] = [:]
    private var previous: [String: (status: String, startedAt: String)] = [:]
    private var dirty: Set<String> = []

    /// Starts from what `store` holds.
    package init(store: ProjectionStore) throws {
        metrics = try store.metrics()
        applied = try store.checkpoint()
    }

    /// Applies `entry`; entries at or below the checkpoint are skipped (never counted twice).
    package mutating func apply(_ entry: JournalEntry, store: ProjectionStore) throws {
        guard entry.seq > applied else { return }
        let run = entry.runID.rawValue
        if working[run] == nil {
            if let stored = try store.record(run) {
                working[run] = stored
                previous[run] = (stored.status, stored.startedAt ?? ProjectionStore.epoch)
            } else {
                var record = DualRunRecord(runID: run, firstSeq: entry.seq)
                record.startedAt = entry.timestamp
                working[run] = record
            }
        }
        let type = entry.type
        let data = JSONFields(entry.data)
        RecordFold.apply(entry, type: type, data: data, to: &working[run]!)
        metrics.apply(type: type, data: data)
        dirty.insert(run)
        applied = entry.seq
    }

    /// Writes what changed since the last flush, with the metrics and the checkpoint, in one
    /// transaction; then forgets finished runs.
    package mutating func flush(to store: ProjectionStore) throws {
        let changes = dirty.sorted().map { run in
            ProjectionStore.Change(record: working[run]!, previous: previous[run])
        }
        try store.commit(changes, metrics: metrics, checkpoint: applied)
        for run in dirty {
            let record = working[run]!
            if record.isTerminal {
                working[run] = nil
                previous[run] = nil
            } else {
                previous[run] = (record.status, record.startedAt ?? ProjectionStore.epoch)
            }
        }
        dirty.removeAll(keepingCapacity: true)
        if working.count > 100_000 {
            working.removeAll()
            previous.removeAll()
        }
    }

    /// Entries applied since the last flush.
    package var hasUnflushedChanges: Bool { !dirty.isEmpty }
}
