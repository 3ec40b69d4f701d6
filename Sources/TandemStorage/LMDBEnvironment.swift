import CLMDB
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An open LMDB environment: one directory, its memory map and its transactions (the part of a
/// ``Storage`` that does not depend on its schema).
///
/// Opened with `MDB_NOTLS`, so read transactions may run on any thread (Swift tasks hop threads).
/// Write transactions begin and commit on one thread without suspending in between: they run
/// synchronously inside ``writeOnce(_:)``.
///
/// `@unchecked Sendable`: `env` and the other `let`s are set once in `init`; LMDB documents the
/// environment as shareable between threads with `MDB_NOTLS`; map-size changes are serialised
/// against every transaction by `resizeLock`; `mapSize` is only written under its write lock.
final class LMDBEnvironment: @unchecked Sendable {
    let env: OpaquePointer
    let path: String
    let store: String
    let readOnly: Bool
    let growth: MapGrowth
    private let resizeLock = ReadWriteLock()
    private var mapSize: Int

    /// Opens (or creates, unless `readOnly`) the environment in `directory`, and frees the reader
    /// slots of dead processes.
    init(
        directory: String, store: String, mapSize: Int, maxReaders: UInt32, growth: MapGrowth,
        noSync: Bool, noMetaSync: Bool, readOnly: Bool
    ) throws(StorageError) {
        if !readOnly {
            try Self.makeDirectory(directory, store: store)
        } else if access(directory + "/data.mdb", R_OK) != 0 {
            throw StorageError(.environment, store: store, operation: "open", "no \(store) at \(directory) (data.mdb missing)")
        }
        var created: OpaquePointer?
        let rc = mdb_env_create(&created)
        guard rc == 0, let created else {
            throw StorageError.lmdb(rc == 0 ? EINVAL : rc, "create environment", store: store, mapLimitSetting: growth.limitSetting)
        }
        env = created
        path = directory
        self.store = store
        self.readOnly = readOnly
        self.growth = growth
        self.mapSize = mapSize
        // Every stored property is set: from here on a throw runs `deinit`, which closes `env`.
        try check(mdb_env_set_maxdbs(env, 8), "set max databases")
        try check(mdb_env_set_maxreaders(env, maxReaders), "set max readers")
        try check(mdb_env_set_mapsize(env, mapSize), "set map size")
        var flags = UInt32(MDB_NOTLS)
        if noSync { flags |= UInt32(MDB_NOSYNC) }
        if noMetaSync { flags |= UInt32(MDB_NOMETASYNC) }
        if readOnly { flags |= UInt32(MDB_RDONLY) }
        // 0600: LMDB creates data.mdb and lock.mdb with this mode (SPEC §11 "Files").
        try check(mdb_env_open(env, directory, flags, 0o600), "open environment at \(directory)")
        var dead: Int32 = 0
        mdb_reader_check(env, &dead)
        var info = MDB_envinfo()
        mdb_env_info(env, &info)
        self.mapSize = max(mapSize, info.me_mapsize)
    }

    deinit {
        mdb_env_close(env)
    }

    /// The current size of the memory map in bytes.
    var currentMapSize: Int { resizeLock.withReadLock { mapSize } }

    // MARK: Transactions

    /// Runs `body` in a read transaction, aborted when it returns.
    func read<T>(_ body: (borrowing ReadTransaction) throws -> T) throws -> T {
        while true {
            let outcome: T? = try resizeLock.withReadLock {
                var txn: OpaquePointer?
                let rc = mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn)
                if rc == MDB_MAP_RESIZED { return nil }
                try check(rc, "begin read transaction")
                guard let txn else { throw StorageError.lmdb(EINVAL, "begin read transaction", store: store, mapLimitSetting: nil) }
                defer { mdb_txn_abort(txn) }
                return try body(ReadTransaction(pointer: txn, environment: self))
            }
            if let outcome { return outcome }
            try adoptMapSizeOfOtherProcess()
        }
    }

    /// Runs `body` in a write transaction and commits it; aborts it when `body` throws. A full
    /// map is reported, not grown: ``Storage/write(_:)`` applies the store's ``MapGrowth``.
    func writeOnce<T>(_ body: (borrowing WriteTransaction) throws -> T) throws -> T {
        try committed(flags: 0, "begin write transaction", body)
    }

    /// Runs `body` in the transaction that opens the store's databases — read-only in a read-only
    /// environment — and commits it: database handles outlive only a committed transaction.
    func opening<T>(_ body: (borrowing WriteTransaction) throws -> T) throws -> T {
        readOnly
            ? try committed(flags: UInt32(MDB_RDONLY), "begin read transaction", body)
            : try committed(flags: 0, "begin write transaction", body)
    }

    private func committed<T>(flags: UInt32, _ begin: String, _ body: (borrowing WriteTransaction) throws -> T) throws -> T {
        while true {
            let outcome: T? = try resizeLock.withReadLock {
                var txn: OpaquePointer?
                let rc = mdb_txn_begin(env, nil, flags, &txn)
                if rc == MDB_MAP_RESIZED { return nil }
                try check(rc, begin)
                guard let txn else { throw StorageError.lmdb(EINVAL, begin, store: store, mapLimitSetting: nil) }
                let result: T
                do {
                    result = try body(WriteTransaction(pointer: txn, environment: self))
                } catch {
                    mdb_txn_abort(txn)
                    throw error
                }
                try check(mdb_txn_commit(txn), "commit")
                return result
            }
            if let outcome { return outcome }
            try adoptMapSizeOfOtherProcess()
        }
    }

    /// Doubles the map, up to the store's limit; call only with no transaction open in this process.
    /// - Returns: whether the map grew.
    func growMap() throws(StorageError) -> Bool {
        try resizeLock.withWriteLock { () throws(StorageError) -> Bool in
            guard mapSize < growth.limit else { return false }
            let newSize = min(growth.limit, mapSize * 2)
            try check(mdb_env_set_mapsize(env, newSize), "grow map to \(newSize) bytes")
            mapSize = newSize
            return true
        }
    }

    /// Frees the reader slots of processes that died inside a read transaction.
    /// - Returns: how many slots were freed.
    func clearStaleReaders() throws(StorageError) -> Int {
        var dead: Int32 = 0
        try check(mdb_reader_check(env, &dead), "check for readers of dead processes")
        return Int(dead)
    }

    /// Forces buffered commits to disk.
    func sync() throws(StorageError) {
        try check(mdb_env_sync(env, 1), "sync")
    }

    private func adoptMapSizeOfOtherProcess() throws(StorageError) {
        try resizeLock.withWriteLock { () throws(StorageError) in
            try check(mdb_env_set_mapsize(env, 0), "adopt map size")
            var info = MDB_envinfo()
            mdb_env_info(env, &info)
            mapSize = info.me_mapsize
        }
    }

    // MARK: Errors

    /// Throws the store's error for LMDB return code `rc` unless it is 0.
    func check(_ rc: Int32, _ operation: @autoclosure () -> String) throws(StorageError) {
        guard rc != 0 else { return }
        throw StorageError.lmdb(rc, operation(), store: store, mapLimitSetting: growth.limitSetting)
    }

    private static func makeDirectory(_ directory: String, store: String) throws(StorageError) {
        do {
            // 0700 for every directory this creates (the data dir's are private, SPEC §11).
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]
            )
        } catch {
            throw StorageError(.io, store: store, operation: "create directory", "cannot create data directory \(directory): \(error.localizedDescription)")
        }
    }
}
