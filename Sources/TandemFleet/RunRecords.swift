import TandemDomain
import TandemJournal
import TandemProjections

/// The `DualRunRecord`s the batches of a shipper touch, each folded from its run's entries up to
/// the batch's last seq, so a record in the store never runs ahead of its rows.
///
/// Batches come in seq order, so the shipper keeps the records of the runs that are still open
/// and folds only each batch's entries into them, instead of reading every touched run back from
/// the journal and folding it from its start for each batch (measured with `make bench-fleet`: the
/// re-read was a third of the shipper's CPU under serve's load). A run is read from the journal
/// only when this fold has not seen its beginning: it started before the shipper did, or before
/// the batch sequence broke (a retry from the stored mark, a batch read ahead and then dropped),
/// or its `run_started` is not its first entry (a run id used again).
struct RunRecords {
    /// The runs folded through ``foldedThrough`` that had not closed by then.
    private var open: [RunID: DualRunRecord] = [:]
    /// The last seq folded into ``open``; `nil` before the first batch and after a failed one.
    private var foldedThrough: UInt64?
    /// How many times a run was read back from the journal because its beginning was not folded here.
    private(set) var runsReadBack = 0

    /// Beyond this many open runs (a journal of runs that never close) the kept records are
    /// dropped and those runs are read from the journal again when they reappear. A record holds
    /// its run's query and context (up to 64 KiB), so this bounds the memory kept to ~130 MiB at
    /// worst; `serve` keeps a few hundred runs open under load.
    static let maxOpenRuns = 2_048

    /// Canonical JSON of the record of every run with an entry in `batch` (contiguous, in seq
    /// order), in order of first appearance.
    mutating func records(touchedBy batch: [JournalEntry], in journal: Journal) throws -> [FleetRunRecord] {
        guard let first = batch.first, let last = batch.last else { return [] }
        let continues = foldedThrough.map { $0 < first.seq && first.seq - $0 == 1 } ?? false
        if !continues || open.count > Self.maxOpenRuns { open.removeAll(keepingCapacity: true) }
        // Until this batch is folded whole: a failure leaves ``open`` half updated.
        foldedThrough = nil
        // Each entry's run id made once (a String; a UUID-shaped id is a heap allocation).
        let runIDs = batch.map(\.runID)
        var order: [RunID] = []
        var unseen = Set<RunID>()
        var seen = Set<RunID>()
        // Runs that open in this batch without a record here: folded from their `run_started`
        // once the journal confirms that nothing of theirs comes before it.
        var openings: [RunID: UInt64] = [:]
        for (entry, run) in zip(batch, runIDs) where seen.insert(run).inserted {
            order.append(run)
            guard open[run] == nil else { continue }
            if Self.opensRun(entry) { openings[run] = entry.seq } else { unseen.insert(run) }
        }
        // A run id used before (`tandem journal append` can write a second `run_started`) is
        // read back whole, like any run whose beginning was not folded here.
        unseen.formUnion(try journal.runsWithEntries(before: openings))
        if !unseen.isEmpty {
            runsReadBack += unseen.count
            for (run, entries) in try journal.entries(of: unseen, through: last.seq) {
                open[run] = Self.fold(entries)
            }
        }
        for (entry, run) in zip(batch, runIDs) where unseen.isEmpty || !unseen.contains(run) {
            if open[run] == nil {
                open[run] = Self.fold([entry])
            } else {
                RecordFold.apply(entry, to: &open[run]!)
            }
        }
        let result = order.map { run in FleetRunRecord(runID: run.rawValue, json: (open[run] ?? Self.fold([])).json) }
        for run in order where open[run]?.isTerminal ?? true { open[run] = nil }
        foldedThrough = last.seq
        return result
    }

    /// The record of one run's entries (in seq order), as the projection folds it.
    static func fold(_ entries: [JournalEntry]) -> DualRunRecord {
        guard let first = entries.first else { return DualRunRecord(runID: "", firstSeq: 0) }
        var record = DualRunRecord(runID: first.runID.rawValue, firstSeq: first.seq)
        record.startedAt = first.timestamp
        for entry in entries { RecordFold.apply(entry, to: &record) }
        return record
    }

    private static func opensRun(_ entry: JournalEntry) -> Bool {
        RunEventKind.runStarted.rawValue.utf8.elementsEqual(entry.typeUTF8)
    }
}
