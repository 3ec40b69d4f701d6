import Logging
import TandemStorage

/// The journal's databases.
///
/// - `entries`: seq (8-byte big-endian) → canonical line.
/// - `marks`: seq → 1 byte, for entries that open or close a run (written with the entry).
/// - `runStarts` (`run_starts`): run id → the seq of the run's first entry (its "anchor").
/// - `runEntries` (`run_entries`): anchor (8 bytes) + seq (8 bytes) → empty: the seqs of each run, in order.
/// - `openRuns` (`open_runs`): anchor → run id, for runs opened and not yet closed.
/// - `meta` (``Storage/meta``): `format` → format version; `head` → last seq (8 bytes) + its
///   line's SHA-256 (64 hex); `indexed` → the last seq the run index (`run_starts`,
///   `run_entries`, `open_runs`) covers.
///
/// Journal commits write `entries`, `marks` and `head` only — all appends at the end of their
/// B-trees. The run index is derived and written in its own, less frequent transactions
/// (docs/DESIGN.md, "Run index").
struct JournalSchema: StorageSchema {
    static let store = "journal"
    static let format = "tandem-journal/1"

    let entries: Database
    let marks: Database
    let runStarts: Database
    let runEntries: Database
    let openRuns: Database

    init(resolving database: (String) throws(StorageError) -> Database) throws(StorageError) {
        entries = try database("entries")
        marks = try database("marks")
        runStarts = try database("run_starts")
        runEntries = try database("run_entries")
        openRuns = try database("open_runs")
    }
}

/// The journal's storage: a ``Storage`` of ``JournalSchema`` whose failures reach the journal's
/// callers as ``JournalError`` wrapping the ``StorageError``.
struct JournalStore: Sendable {
    private let storage: Storage<JournalSchema>

    /// Opens the journal's environment as `configuration` says; the map grows up to
    /// ``JournalConfiguration/maxMapBytes`` (`TANDEM_JOURNAL_MAX_MAP_BYTES`), logged each time.
    init(_ configuration: JournalConfiguration, logger: Logger) throws {
        do {
            storage = try Storage(
                directory: configuration.journalDirectory,
                mapSize: configuration.initialMapBytes,
                maxReaders: configuration.maxReaders,
                growth: MapGrowth(limit: configuration.maxMapBytes, limitSetting: "TANDEM_JOURNAL_MAX_MAP_BYTES"),
                noSync: configuration.durability == .async,
                readOnly: configuration.readOnly
            ) { mapBytes in
                logger.notice("journal map grown", metadata: ["map_bytes": "\(mapBytes)"])
            }
        } catch let error as StorageError {
            throw JournalError(error)
        }
    }

    /// The journal's databases besides `meta`.
    var databases: JournalSchema { storage.databases }
    /// The journal's `meta` database.
    var meta: Database { storage.meta }
    /// The current size of the memory map in bytes.
    var mapSize: Int { storage.mapSize }

    /// See ``Storage/read(_:)``.
    func read<T>(_ body: (borrowing ReadTransaction) throws -> T) throws -> T {
        do {
            return try storage.read(body)
        } catch let error as StorageError {
            throw JournalError(error)
        }
    }

    /// See ``Storage/write(_:)``: the map grows as the configuration allows.
    func write<T>(_ body: (borrowing WriteTransaction) throws -> T) throws -> T {
        do {
            return try storage.write(body)
        } catch let error as StorageError {
            throw JournalError(error)
        }
    }

    /// See ``Storage/clearStaleReaders()``.
    func clearStaleReaders() throws(JournalError) -> Int {
        do {
            return try storage.clearStaleReaders()
        } catch {
            throw JournalError(error)
        }
    }

    /// Forces buffered commits to disk (used in `async` durability).
    func sync() throws(JournalError) {
        do {
            try storage.sync()
        } catch {
            throw JournalError(error)
        }
    }
}
