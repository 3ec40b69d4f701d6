import Crypto
import Foundation
import TandemStorage

/// The projection store's databases (see ``ProjectionStore``).
struct ProjectionSchema: StorageSchema {
    static let store = "projection store"
    static let format = "tandem-projections/2"

    let records: Database
    let byTime: Database
    let byStatus: Database

    init(resolving database: (String) throws(StorageError) -> Database) throws(StorageError) {
        records = try database("records")
        byTime = try database("by_time")
        byStatus = try database("by_status")
    }
}

/// The projections' own LMDB environment: run records with their listing indexes, the metrics
/// state, and the checkpoint (last applied journal seq) — all written in one transaction, so the
/// checkpoint always matches the state.
///
/// - `records`: run id → record JSON.
/// - `by_time`: inverted `started_at` + run id → ∅ (forward order is newest first).
/// - `by_status`: status + `|` + inverted `started_at` + run id → ∅.
/// - `meta`: `format`, `checkpoint` (8 bytes), `checkpoint_hash` (the SHA-256, 64 hex, of the
///   journal line at the checkpoint: start-up checks the journal still has that entry),
///   `metrics` (JSON), `metrics+<seq>` (JSON additions since the whole `metrics` was stored;
///   reads merge them).
///
/// Failures of its storage reach callers as ``ProjectionError`` wrapping the storage's error.
/// Reads run in their own transactions, and each write transaction begins and commits on one
/// thread without suspending (the live projector, or a rebuild's shard threads, which LMDB's
/// writer lock serializes).
package final class ProjectionStore: Sendable {
    /// Version 2: metrics may be stored as additions (version 1 readers would miss them, so a
    /// store of either version is rebuilt by the other at start-up).
    package static let format = ProjectionSchema.format

    private let storage: Storage<ProjectionSchema>
    /// The store's directory name inside `<data>/projections`.
    package let name: String

    /// Opens the store in `directory`.
    /// - Parameter syncCommits: `false` for a store nobody reads yet (a rebuild), which is synced
    ///   once at the end; otherwise data is synced at each commit and the meta page lazily
    ///   (a power loss may roll the last commit back, state and checkpoint together).
    package init(directory: String, name: String, readOnly: Bool, syncCommits: Bool = true) throws {
        self.name = name
        do {
            storage = try Storage(
                directory: directory, mapSize: 1 << 30, maxReaders: 1_024, growth: MapGrowth(limit: 1 << 40, limitSetting: nil),
                noSync: !syncCommits, noMetaSync: true, readOnly: readOnly
            )
        } catch let error as StorageError {
            throw ProjectionError(error)
        }
    }

    private var databases: ProjectionSchema { storage.databases }
    private static let checkpointKey = Array("checkpoint".utf8)
    private static let checkpointHashKey = Array("checkpoint_hash".utf8)
    private static let metricsKey = Array("metrics".utf8)
    /// Keys of metrics additions: this prefix and the checkpoint they were stored with.
    private static let metricsAdditionPrefix = Array("metrics+".utf8)

    // MARK: Reads

    package func checkpoint() throws -> UInt64 {
        try read { txn in try checkpoint(txn) }
    }

    /// The checkpoint and the hash of the journal line it was taken at, read together; the hash
    /// is `nil` in a store written before hashes were kept (or at checkpoint 0).
    package func checkpointWithHash() throws -> (seq: UInt64, hash: [UInt8]?) {
        try read { txn in
            (try checkpoint(txn), try txn.get(Self.checkpointHashKey, in: storage.meta))
        }
    }

    private func checkpoint(_ txn: borrowing ReadTransaction) throws -> UInt64 {
        try txn.get(Self.checkpointKey, in: storage.meta).map { SeqKey.decode($0) } ?? 0
    }

    /// The metrics as of the checkpoint: the whole stored state plus every addition stored since.
    package func metrics() throws -> MetricsState {
        try read { txn in try metrics(txn) }
    }

    private func metrics(_ txn: borrowing ReadTransaction) throws -> MetricsState {
        var metrics = try txn.get(Self.metricsKey, in: storage.meta).flatMap { MetricsState(json: $0) } ?? MetricsState()
        try txn.walk(storage.meta, from: Self.metricsAdditionPrefix) { key, value in
            guard key.starts(with: Self.metricsAdditionPrefix) else { return false }
            if let addition = MetricsState(json: Array(value)) { metrics.merge(addition) }
            return true
        }
        return metrics
    }

    /// The stored JSON of `run`'s record.
    package func recordJSON(_ run: String) throws -> [UInt8]? {
        try read { txn in try txn.get(Array(run.utf8), in: databases.records) }
    }

    package func record(_ run: String) throws -> DualRunRecord? {
        try recordJSON(run).flatMap { DualRunRecord(json: $0) }
    }

    /// One page of records, newest first.
    /// - Parameters:
    ///   - status: only runs with this status.
    ///   - since: only runs started at or after this timestamp (`YYYY-MM-DDTHH:MM:SS…Z`).
    ///   - after: the cursor of the previous page.
    /// - Returns: record JSONs and the cursor of the next page (`nil` at the end).
    package func list(status: RunRecordStatus?, since: String?, limit: Int, after cursor: [UInt8]?) throws -> ([[UInt8]], [UInt8]?) {
        try read { txn in
            let prefix: [UInt8] = status.map { Array($0.rawValue.utf8) + [UInt8(ascii: "|")] } ?? []
            let database = status == nil ? databases.byTime : databases.byStatus
            var page: [[UInt8]] = []
            var lastKey: [UInt8]?
            var more = false
            try txn.walk(database, from: cursor.map { prefix + $0 } ?? prefix) { key, _ in
                guard key.starts(with: prefix) else { return false }
                let rest = Array(key[prefix.count...])
                if let cursor, rest == cursor { return true }
                guard rest.count > 27 else { return true }
                if let since, String(decoding: Self.invert(Array(rest[0..<27])), as: UTF8.self) < since {
                    return false  // newest first: every later key started even earlier
                }
                if page.count == limit {
                    more = true
                    return false
                }
                let run = Array(rest[27...])
                if let json = try txn.get(run, in: databases.records) { page.append(json) }
                lastKey = rest
                return true
            }
            return (page, more ? lastKey : nil)
        }
    }

    // MARK: Writes

    /// The metrics and checkpoint stored with a commit: both or neither, so they always agree.
    package struct State {
        package var metrics: Metrics
        package var checkpoint: UInt64
        /// The hash (64 hex) of the journal line at ``checkpoint``; `nil` keeps the stored one
        /// (a commit that applied no entry since it was stored).
        package var checkpointHash: [UInt8]? = nil

        /// How the commit stores the metrics.
        package enum Metrics {
            /// The whole state, replacing what was stored (and every addition).
            case whole(MetricsState)
            /// What the entries since the last commit added: small, where the whole state is
            /// kilobytes of histograms. Reads merge the additions into the whole.
            case added(MetricsState)
        }
    }

    /// A record to store: its JSON, its index position, and the one it had before (to move it).
    package struct Change {
        package var runID: String
        package var status: RunRecordStatus
        package var startedAt: String
        package var json: [UInt8]
        package var previous: (status: RunRecordStatus, startedAt: String)?

        package init(_ record: borrowing DualRunRecord, previous: (status: RunRecordStatus, startedAt: String)?) {
            runID = record.runID
            status = record.status
            startedAt = record.startedAt ?? ProjectionStore.epoch
            json = record.json
            self.previous = previous
        }
    }

    /// Stores `changes` and, when given, `state` in one transaction. A rebuild's shards commit
    /// records only; the merged state follows in the last commit, before the store is published.
    package func commit(_ changes: [Change], state: State?) throws {
        let metricsJSON: [UInt8]? = switch state?.metrics {
        case .whole(let metrics)?, .added(let metrics)?: metrics.json
        case nil: nil
        }
        try write { txn in
            let databases = self.databases
            let meta = storage.meta
            for change in changes {
                let run = Array(change.runID.utf8)
                let started = Self.invert(Array(change.startedAt.utf8))
                if let previous = change.previous {
                    let previousStarted = Self.invert(Array(previous.startedAt.utf8))
                    if previous.startedAt != change.startedAt {
                        try txn.delete(previousStarted + run, in: databases.byTime)
                    }
                    if previous.status != change.status || previous.startedAt != change.startedAt {
                        try txn.delete(Array(previous.status.rawValue.utf8) + [UInt8(ascii: "|")] + previousStarted + run, in: databases.byStatus)
                    }
                }
                try txn.put(run, change.json, in: databases.records)
                try txn.put(started + run, [], in: databases.byTime)
                try txn.put(Array(change.status.rawValue.utf8) + [UInt8(ascii: "|")] + started + run, [], in: databases.byStatus)
            }
            if let state, let metricsJSON {
                switch state.metrics {
                case .whole:
                    try txn.put(Self.metricsKey, metricsJSON, in: meta)
                    var additions: [[UInt8]] = []
                    try txn.reads.walk(meta, from: Self.metricsAdditionPrefix) { key, _ in
                        guard key.starts(with: Self.metricsAdditionPrefix) else { return false }
                        additions.append(Array(key))
                        return true
                    }
                    for key in additions { try txn.delete(key, in: meta) }
                case .added(let added):
                    // Entries that count nothing (starts, first frames) add no key to merge on reads.
                    if added != MetricsState() {
                        try txn.put(Self.metricsAdditionPrefix + SeqKey.encode(state.checkpoint), metricsJSON, in: meta)
                    }
                }
                try txn.put(Self.checkpointKey, SeqKey.encode(state.checkpoint), in: meta)
                if let hash = state.checkpointHash {
                    try txn.put(Self.checkpointHashKey, hash, in: meta)
                }
            }
        }
    }

    /// Forces the commits of a store opened without `syncCommits` to disk.
    package func sync() throws {
        do {
            try storage.sync()
        } catch {
            throw ProjectionError(error)
        }
    }

    /// See ``Storage/read(_:)``; a storage failure becomes a ``ProjectionError``.
    private func read<T>(_ body: (borrowing ReadTransaction) throws -> T) throws -> T {
        do {
            return try storage.read(body)
        } catch let error as StorageError {
            throw ProjectionError(error)
        }
    }

    /// See ``Storage/write(_:)``: the map grows up to 1 TiB; a storage failure becomes a
    /// ``ProjectionError``.
    private func write(_ body: (borrowing WriteTransaction) throws -> Void) throws {
        do {
            try storage.write(body)
        } catch let error as StorageError {
            throw ProjectionError(error)
        }
    }

    // MARK: Digest

    /// The checkpoint and a SHA-256 over every stored byte of the state, read in one snapshot.
    package func digest() throws -> (checkpoint: UInt64, digest: String) {
        try read { txn in
            var hasher = SHA256()
            func add(_ bytes: UnsafeRawBufferPointer) {
                withUnsafeBytes(of: UInt64(bytes.count).bigEndian) { hasher.update(bufferPointer: $0) }
                hasher.update(bufferPointer: bytes)
            }
            for database in [databases.records, databases.byTime, databases.byStatus] {
                try txn.walk(database, from: nil) { key, value in
                    add(key)
                    add(value)
                    return true
                }
            }
            let checkpoint = try self.checkpoint(txn)
            // The metrics as read (whole plus additions), so that how they were stored does not count;
            // in the form earlier builds hashed (the time-per-output-token histogram, which every
            // rebuild now adds to their runs, is compared through `metrics()` instead).
            let metrics = try self.metrics(txn).json(withTokenTimes: false)
            metrics.withUnsafeBytes { add($0) }
            SeqKey.encode(checkpoint).withUnsafeBytes { add($0) }
            return (checkpoint, hasher.finalize().map { String(format: "%02x", $0) }.joined())
        }
    }

    /// A `started_at` for records whose run never journaled a timestamp we saw (never happens for
    /// real runs: every record starts with an entry's `ts`).
    static let epoch = "1970-01-01T00:00:00.000000Z"

    /// Byte-wise complement, so that later timestamps sort first.
    static func invert(_ bytes: [UInt8]) -> [UInt8] {
        bytes.map { 255 - $0 }
    }
}
