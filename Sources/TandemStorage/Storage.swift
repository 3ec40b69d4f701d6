import CLMDB

/// One store in LMDB — the journal, a projection store: its environment, its databases resolved
/// at open (``StorageSchema``), its transactions and its map-growth policy. tandem talks to LMDB
/// only through this module.
///
/// Invariants it keeps for every store:
/// - Transactions never suspend and never escape: ``read(_:)`` and ``write(_:)`` hand a
///   `~Copyable` transaction, `borrowing`, to a synchronous closure (see ``ReadTransaction``).
/// - Database handles are typed and resolved at open: code names `databases.entries`, never a
///   string; a read-only open of files that lack one of the schema's databases fails.
/// - A write that finds the map full doubles it up to the store's ``MapGrowth`` limit and runs
///   again; past the limit it fails with ``StorageError/Code/mapFull``.
/// - Every open frees the reader slots of dead processes; ``clearStaleReaders()`` does it again.
package struct Storage<Schema: StorageSchema>: Sendable {
    let environment: LMDBEnvironment
    /// The store's databases.
    package let databases: Schema
    /// The `meta` database every store has: its format marker and the store's own small records.
    package let meta: Database
    private let onGrowth: @Sendable (_ mapBytes: Int) -> Void

    /// Opens (or creates, unless `readOnly`) the store in `directory`.
    /// - Parameters:
    ///   - mapSize: the initial memory-map size in bytes (a larger map in the files is kept).
    ///   - growth: how far writes may grow the map.
    ///   - noSync: commits are not fsynced (`MDB_NOSYNC`); `noMetaSync`: data is, the meta page is
    ///     not (`MDB_NOMETASYNC`: the last commit may roll back on power loss, nothing is damaged).
    ///   - onGrowth: told the new map size each time a write grows the map.
    /// - Throws: ``StorageError`` `.environment`, `.io`, or `.formatMismatch` (another format
    ///   marker, none, or a database of the schema missing in a read-only open).
    package init(
        directory: String, mapSize: Int, maxReaders: UInt32, growth: MapGrowth,
        noSync: Bool, noMetaSync: Bool = false, readOnly: Bool,
        onGrowth: @escaping @Sendable (_ mapBytes: Int) -> Void = { _ in }
    ) throws {
        let environment = try LMDBEnvironment(
            directory: directory, store: Schema.store, mapSize: mapSize, maxReaders: maxReaders, growth: growth,
            noSync: noSync, noMetaSync: noMetaSync, readOnly: readOnly
        )
        (databases, meta) = try environment.opening { txn in
            let pointer = txn.reads.pointer
            // Only an empty environment is made a tandem store: one that holds anything else
            // without the format marker is another program's, left as it is (the transaction
            // that would have created the databases is aborted by the format check below).
            let fresh = environment.readOnly ? false : try Self.isEmpty(pointer, environment)
            let resolve = { (name: String) throws(StorageError) -> Database in
                try Self.openDatabase(name, in: pointer, environment)
            }
            let databases = try Schema(resolving: resolve)
            let meta = try resolve("meta")
            if fresh {
                try txn.put(Self.formatKey, Array(Schema.format.utf8), in: meta)
            }
            try Self.checkFormat(txn.reads, meta, environment)
            return (databases, meta)
        }
        self.environment = environment
        self.onGrowth = onGrowth
    }

    /// The current size of the memory map in bytes.
    package var mapSize: Int { environment.currentMapSize }

    // MARK: Transactions

    /// Runs `body` in a read transaction: one snapshot, ended when `body` returns.
    package func read<T>(_ body: (borrowing ReadTransaction) throws -> T) throws -> T {
        try environment.read(body)
    }

    /// Runs `body` in a write transaction and commits it; aborts it when `body` throws, so
    /// nothing of a failed write is visible.
    ///
    /// When the map is full, `body`'s transaction is aborted, the map doubles (up to the store's
    /// ``MapGrowth`` limit, telling `onGrowth`) and `body` runs again in a new transaction: it
    /// must not keep state of an aborted run. One writer at a time per store (LMDB's writer lock);
    /// call with no other transaction of this process open on the same thread.
    package func write<T>(_ body: (borrowing WriteTransaction) throws -> T) throws -> T {
        while true {
            do {
                return try environment.writeOnce(body)
            } catch let error as StorageError where error.code == .mapFull {
                guard try environment.growMap() else { throw error }
                onGrowth(environment.currentMapSize)
            }
        }
    }

    // MARK: Maintenance

    /// Frees the reader slots of processes that died inside a read transaction (a `journal
    /// replay | head` killed by SIGPIPE), which would otherwise pin old pages.
    /// - Returns: how many slots were freed.
    package func clearStaleReaders() throws(StorageError) -> Int {
        try environment.clearStaleReaders()
    }

    /// Forces commits made without a sync (`noSync`) to disk.
    package func sync() throws(StorageError) {
        try environment.sync()
    }

    // MARK: Set-up

    private static var formatKey: [UInt8] { Array("format".utf8) }

    /// Whether the environment's main database holds nothing yet (no named database, no key).
    private static func isEmpty(_ txn: OpaquePointer, _ environment: LMDBEnvironment) throws(StorageError) -> Bool {
        var main: MDB_dbi = 0
        try environment.check(mdb_dbi_open(txn, nil, 0, &main), "open the main database")
        var stat = MDB_stat()
        try environment.check(mdb_stat(txn, main, &stat), "read the main database's size")
        return stat.ms_entries == 0
    }

    private static func openDatabase(_ name: String, in txn: OpaquePointer, _ environment: LMDBEnvironment) throws(StorageError) -> Database {
        var dbi: MDB_dbi = 0
        let flags = environment.readOnly ? 0 : UInt32(MDB_CREATE)
        let rc = mdb_dbi_open(txn, name, flags, &dbi)
        if rc == MDB_NOTFOUND {
            throw StorageError(
                .formatMismatch, store: Schema.store, operation: "open database \(name)",
                "the \(Schema.store) has no '\(name)' database; it was not written by tandem"
            )
        }
        try environment.check(rc, "open database \(name)")
        return Database(dbi)
    }

    private static func checkFormat(_ txn: borrowing ReadTransaction, _ meta: Database, _ environment: LMDBEnvironment) throws(StorageError) {
        guard let stored = try txn.get(formatKey, in: meta) else {
            throw StorageError(
                .formatMismatch, store: Schema.store, operation: "check format",
                "the \(Schema.store) at \(environment.path) has no format marker; it was not written by tandem"
            )
        }
        let version = String(decoding: stored, as: UTF8.self)
        guard version == Schema.format else {
            throw StorageError(
                .formatMismatch, store: Schema.store, operation: "check format",
                "the \(Schema.store) at \(environment.path) is format '\(version)', this tandem reads '\(Schema.format)'; use a matching tandem release"
            )
        }
    }
}
