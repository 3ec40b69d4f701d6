import TandemJournal
import TandemProjections

/// The `DualRunRecord`s a batch of entries touches, folded from the local journal: each run's
/// entries up to the batch's last seq, so a record in the store never runs ahead of its rows.
enum RunRecords {
    /// Canonical JSON of the record of every run with an entry in `batch`, in order of first appearance.
    static func records(touchedBy batch: [JournalEntry], in journal: Journal) throws -> [FleetRunRecord] {
        guard let last = batch.last?.seq else { return [] }
        var seen = Set<RunID>()
        let runs = batch.map(\.runID).filter { seen.insert($0).inserted }
        let entries = try journal.entries(of: seen, through: last)
        return runs.map { run in FleetRunRecord(runID: run.rawValue, json: fold(entries[run] ?? []).json) }
    }

    /// The record of one run's entries (in seq order), as the projection folds it.
    static func fold(_ entries: [JournalEntry]) -> DualRunRecord {
        guard let first = entries.first else { return DualRunRecord(runID: "", firstSeq: 0) }
        var record = DualRunRecord(runID: first.runID.rawValue, firstSeq: first.seq)
        record.startedAt = first.timestamp
        for entry in entries { RecordFold.apply(entry, to: &record) }
        return record
    }
}
