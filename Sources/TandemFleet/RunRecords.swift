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
    /// How many records are kept for the next batch (the runs still open).
    var keptRuns: Int { open.count }

    /// Beyond this many open runs (a journal of runs that never close) the kept records are
    /// dropped and those runs are read from the journal again when they reappear. A record holds
    /// its run's query and context (up to 64 KiB), so this bounds the memory kept to ~130 MiB at
    /// worst; `serve` keeps a few hundred runs open under load.
    static let maxOpenRuns = 2_048

    /// Canonical JSON of the record of every run with an entry in `batch` (contiguous, in seq
    /// order), in order of first appearance.
    ///
    /// Records are folded in place and moved, never copied (a record holds a dozen references:
    /// copying one per entry was a fifth of the shipper's reading thread), and each entry's run is
    /// found by its id's bytes, so a run id String is made once per run, not once per entry.
    mutating func records(touchedBy batch: [JournalEntry], in journal: Journal) throws -> [FleetRunRecord] {
        guard let first = batch.first, let last = batch.last else { return [] }
        let continues = foldedThrough.map { $0 < first.seq && first.seq - $0 == 1 } ?? false
        if !continues || open.count > Self.maxOpenRuns { open.removeAll(keepingCapacity: true) }
        // Until this batch is folded whole: a failure leaves ``open`` half updated.
        foldedThrough = nil
        let touched = TouchedRuns(batch)
        // Each touched run's record: carried over, or started from its first entry here.
        var records: [DualRunRecord] = []
        records.reserveCapacity(touched.runs.count)
        var unseen = Set<RunID>()
        // Runs that open in this batch without a record here: folded from their `run_started`
        // once the journal confirms that nothing of theirs comes before it.
        var openings: [RunID: UInt64] = [:]
        for (run, firstEntry) in zip(touched.runs, touched.firstEntries) {
            if let carried = open.removeValue(forKey: run) {
                records.append(carried)
                continue
            }
            let entry = batch[firstEntry]
            if Self.opensRun(entry) { openings[run] = entry.seq } else { unseen.insert(run) }
            records.append(RecordFold.opening(run.rawValue, at: entry))
        }
        // A run id used before (`tandem journal append` can write a second `run_started`) is
        // read back whole, like any run whose beginning was not folded here.
        unseen.formUnion(try journal.runsWithEntries(before: openings))
        // Runs read back already hold this batch's entries.
        var readBack = [Bool](repeating: false, count: records.count)
        if !unseen.isEmpty {
            runsReadBack += unseen.count
            let entries = try journal.entries(of: unseen, through: last.seq)
            for (index, run) in touched.runs.enumerated() where unseen.contains(run) {
                guard let runEntries = entries[run] else {
                    throw FleetError(
                        .journal, "The local journal could not be read: its run index holds no entries of run \(run) up to seq \(last.seq), yet the batch read has some; run `tandem journal verify`."
                    )
                }
                records[index] = Self.fold(runEntries)
                readBack[index] = true
            }
        }
        for index in batch.indices {
            let run = touched.runOfEntry[index]
            if !readBack[run] { RecordFold.apply(batch[index], to: &records[run]) }
        }
        let result = records.indices.map { FleetRunRecord(json: String(decoding: records[$0].json, as: UTF8.self)) }
        // The open ones are kept for the next batch, moved out of `records`.
        while let record = records.popLast() {
            if !record.isTerminal { open[touched.runs[records.count]] = record }
        }
        foldedThrough = last.seq
        return result
    }

    /// The record of one run's entries (in seq order), as the projection folds it.
    static func fold(_ entries: [JournalEntry]) -> DualRunRecord {
        RecordFold.record(of: entries, run: entries.first?.runID.rawValue ?? "") ?? DualRunRecord(runID: "", firstSeq: 0)
    }

    private static func opensRun(_ entry: JournalEntry) -> Bool {
        RunEventKind.runStarted.rawValue.utf8.elementsEqual(entry.typeUTF8)
    }
}

/// The runs a batch's entries belong to, in order of first appearance, found by the bytes of each
/// entry's run id (a `RunID` is made once per run, not once per entry).
private struct TouchedRuns {
    /// The runs, in order of first appearance.
    private(set) var runs: [RunID] = []
    /// The index in the batch of each run's first entry.
    private(set) var firstEntries: [Int] = []
    /// For each entry of the batch, its run's index in ``runs``.
    private(set) var runOfEntry: [Int] = []

    init(_ batch: [JournalEntry]) {
        runOfEntry.reserveCapacity(batch.count)
        var indexes: [RunIDBytes: Int] = [:]
        for index in batch.indices {
            let key = RunIDBytes(batch[index].runIDUTF8)
            if let run = indexes[key] {
                runOfEntry.append(run)
            } else {
                indexes[key] = runs.count
                runOfEntry.append(runs.count)
                runs.append(batch[index].runID)
                firstEntries.append(index)
            }
        }
    }
}

/// A run id's bytes as a dictionary key, hashed in one call rather than byte by byte.
private struct RunIDBytes: Hashable {
    let bytes: ArraySlice<UInt8>

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
    }

    static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.bytes.elementsEqual(rhs.bytes)
    }

    func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}
