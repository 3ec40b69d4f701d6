import CLMDB

/// The journal's databases.
///
/// - `entries`: seq (8-byte big-endian) → canonical line.
/// - `marks`: seq → 1 byte, for entries that open or close a run (written with the entry).
/// - `run_starts`: run id → the seq of the run's first entry (its "anchor").
/// - `run_entries`: anchor (8 bytes) + seq (8 bytes) → empty: the seqs of each run, in order.
/// - `open_runs`: anchor → run id, for runs opened and not yet closed.
/// - `meta`: `format` → format version; `head` → last seq (8 bytes) + its line's SHA-256 (64 hex);
///   `indexed` → the last seq the run index (`run_starts`, `run_entries`, `open_runs`) covers.
///
/// Journal commits write `entries`, `marks` and `head` only — all appends at the end of their
/// B-trees. The run index is derived and written in its own, less frequent transactions
/// (docs/DESIGN.md, "Run index").
extension LMDBEnvironment.Layout {
    static let journal = LMDBEnvironment.Layout(
        what: "journal",
        format: "tandem-journal/1",
        databases: [("entries", 0), ("marks", 0), ("run_starts", 0), ("run_entries", 0), ("open_runs", 0)]
    )
}

extension LMDBEnvironment {
    var entries: MDB_dbi { database("entries") }
    var marks: MDB_dbi { database("marks") }
    var runStarts: MDB_dbi { database("run_starts") }
    var runEntries: MDB_dbi { database("run_entries") }
    var openRuns: MDB_dbi { database("open_runs") }
}
