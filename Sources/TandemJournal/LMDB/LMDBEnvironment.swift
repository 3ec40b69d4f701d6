package import CLMDB
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An LMDB environment: one directory with a fixed set of named databases and a format marker.
///
/// Opened with `MDB_NOTLS`, so read transactions may run on any thread (Swift tasks hop threads).
/// Write transactions must begin and commit on one thread without suspending in between: callers
/// run them synchronously inside ``write(_:)``.
///
/// `@unchecked Sendable`: `env` and the database handles (`handles`) are set once in `init`; LMDB documents the
/// environment as shareable between threads with `MDB_NOTLS`; map-size changes are serialised
/// against every transaction by `resizeLock`; `mapSize` is only touched under its write lock.
package final class LMDBEnvironment: @unchecked Sendable {
    /// What lives in an environment: its databases and the format version it must carry.
    package struct Layout: Sendable {
        package var what: String
        package var format: String
        /// Database names and their `mdb_dbi_open` flags (besides `MDB_CREATE`).
        package var databases: [(name: String, flags: UInt32)]

        package init(what: String, format: String, databases: [(name: String, flags: UInt32)]) {
            self.what = what
            self.format = format
            self.databases = databases
        }
    }

    let env: OpaquePointer
    package let path: String
    let readOnly: Bool
    let layout: Layout
    private var handles: [String: MDB_dbi] = [:]
    private let resizeLock = ReadWriteLock()
    private var mapSize: Int

    /// Opens (or creates, unless `readOnly`) the environment in `directory`.
    /// - Parameters:
    ///   - noSync: commits are not fsynced (`MDB_NOSYNC`); `noMetaSync`: data is, the meta page is
    ///     not (`MDB_NOMETASYNC`: the last commit may roll back on power loss, nothing is damaged).
    /// - Throws: ``JournalError`` `.environment` or `.formatMismatch`.
    package init(
        directory: String, layout: Layout, mapSize: Int, maxReaders: UInt32, noSync: Bool, noMetaSync: Bool = false, readOnly: Bool
    ) throws {
        if !readOnly {
            try Self.makeDirectory(directory)
        } else if access(directory + "/data.mdb", R_OK) != 0 {
            throw JournalError(.environment, "no \(layout.what) at \(directory) (data.mdb missing)")
        }
        var env: OpaquePointer?
        try Self.check(mdb_env_create(&env), "create environment")
        guard let env else { throw JournalError(.environment, "mdb_env_create returned no environment") }
        self.env = env
        self.path = directory
        self.readOnly = readOnly
        self.layout = layout
        self.mapSize = mapSize
        // Every stored property is set: from here on a throw runs `deinit`, which closes `env`.
        try Self.check(mdb_env_set_maxdbs(env, 8), "set max databases")
        try Self.check(mdb_env_set_maxreaders(env, maxReaders), "set max readers")
        try Self.check(mdb_env_set_mapsize(env, mapSize), "set map size")
        var flags = UInt32(MDB_NOTLS)
        if noSync { flags |= UInt32(MDB_NOSYNC) }
        if noMetaSync { flags |= UInt32(MDB_NOMETASYNC) }
        if readOnly { flags |= UInt32(MDB_RDONLY) }
        try Self.check(mdb_env_open(env, directory, flags, 0o644), "open environment at \(directory)")
        var dead: Int32 = 0
        mdb_reader_check(env, &dead)
        var info = MDB_envinfo()
        mdb_env_info(env, &info)
        self.mapSize = max(mapSize, info.me_mapsize)
        try openDatabases()
    }

    deinit {
        mdb_env_close(env)
    }

    /// The current size of the memory map in bytes.
    package var currentMapSize: Int { resizeLock.withReadLock { mapSize } }

    // MARK: Transactions

    /// Runs `body` in a short read transaction.
    package func read<T>(_ body: (OpaquePointer) throws -> T) throws -> T {
        while true {
            let outcome: T? = try resizeLock.withReadLock {
                var txn: OpaquePointer?
                let rc = mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn)
                if rc == MDB_MAP_RESIZED { return nil }
                try Self.check(rc, "begin read transaction")
                defer { mdb_txn_abort(txn) }
                return try body(txn!)
            }
            if let outcome { return outcome }
            try adoptMapSizeOfOtherProcess()
        }
    }

    /// Runs `body` in a write transaction and commits it; aborts it when `body` throws.
    /// Only the journal's writer thread calls this.
    package func write<T>(_ body: (OpaquePointer) throws -> T) throws -> T {
        while true {
            let outcome: T? = try resizeLock.withReadLock {
                var txn: OpaquePointer?
                let rc = mdb_txn_begin(env, nil, 0, &txn)
                if rc == MDB_MAP_RESIZED { return nil }
                try Self.check(rc, "begin write transaction")
                let result: T
                do {
                    result = try body(txn!)
                } catch {
                    mdb_txn_abort(txn)
                    throw error
                }
                try Self.check(mdb_txn_commit(txn), "commit")
                return result
            }
            if let outcome { return outcome }
            try adoptMapSizeOfOtherProcess()
        }
    }

    /// Doubles the map (up to `limit`); call only with no transaction open in this process.
    /// - Returns: whether the map grew.
    package func growMap(limit: Int) throws -> Bool {
        try resizeLock.withWriteLock {
            guard mapSize < limit else { return false }
            let newSize = min(limit, mapSize * 2)
            try Self.check(mdb_env_set_mapsize(env, newSize), "grow map to \(newSize) bytes")
            mapSize = newSize
            return true
        }
    }

    /// Frees the reader slots of processes that died inside a read transaction (a `journal
    /// replay | head` killed by SIGPIPE), which would otherwise pin old pages.
    /// - Returns: how many slots were freed.
    package func clearStaleReaders() -> Int {
        var dead: Int32 = 0
        mdb_reader_check(env, &dead)
        return Int(dead)
    }

    /// Forces buffered commits to disk (used in `async` durability).
    package func sync() throws {
        try Self.check(mdb_env_sync(env, 1), "sync")
    }

    private func adoptMapSizeOfOtherProcess() throws {
        try resizeLock.withWriteLock {
            try Self.check(mdb_env_set_mapsize(env, 0), "adopt map size")
            var info = MDB_envinfo()
            mdb_env_info(env, &info)
            mapSize = info.me_mapsize
        }
    }

    // MARK: Set-up

    /// The handle of database `name` (one of the layout's).
    package func database(_ name: String) -> MDB_dbi {
        handles[name] ?? 0
    }

    package var meta: MDB_dbi { database("meta") }

    private func openDatabases() throws {
        if readOnly {
            // Handles opened in a transaction live on only if it commits, even a read-only one.
            var txn: OpaquePointer?
            try Self.check(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn), "begin read transaction")
            do {
                for (name, _) in layout.databases + [("meta", 0)] {
                    handles[name] = try openDatabase(txn!, name, flags: 0)
                }
                try checkFormat(txn!)
            } catch {
                mdb_txn_abort(txn)
                throw error
            }
            try Self.check(mdb_txn_commit(txn), "open databases")
            return
        }
        try write { txn in
            for (name, flags) in layout.databases + [("meta", 0)] {
                handles[name] = try openDatabase(txn, name, flags: UInt32(MDB_CREATE) | flags)
            }
            if try LMDB.get(txn, meta, key: Array("format".utf8)) == nil {
                try LMDB.put(txn, meta, key: Array("format".utf8), value: Array(layout.format.utf8))
            }
            try checkFormat(txn)
        }
    }

    private func checkFormat(_ txn: OpaquePointer) throws {
        guard let stored = try LMDB.get(txn, meta, key: Array("format".utf8)) else {
            throw JournalError(.formatMismatch, "the \(layout.what) at \(path) has no format marker; it was not written by tandem")
        }
        let version = String(decoding: stored, as: UTF8.self)
        guard version == layout.format else {
            throw JournalError(
                .formatMismatch,
                "the \(layout.what) at \(path) is format '\(version)', this tandem reads '\(layout.format)'; use a matching tandem release"
            )
        }
    }

    private func openDatabase(_ txn: OpaquePointer, _ name: String, flags: UInt32) throws -> MDB_dbi {
        var dbi: MDB_dbi = 0
        let rc = mdb_dbi_open(txn, name, flags, &dbi)
        if rc == MDB_NOTFOUND {
            throw JournalError(.formatMismatch, "the \(layout.what) has no '\(name)' database; it was not written by tandem")
        }
        try Self.check(rc, "open database \(name)")
        return dbi
    }

    private static func makeDirectory(_ directory: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw JournalError(.io, "cannot create data directory \(directory): \(error.localizedDescription)")
        }
    }

    package static func check(_ rc: Int32, _ what: String) throws {
        guard rc != 0 else { return }
        throw LMDB.error(rc, what)
    }
}

/// Thin helpers over LMDB's C calls that keep `MDB_val` handling in one place.
package enum LMDB {
    package static func error(_ rc: Int32, _ what: String) -> JournalError {
        let reason = String(cString: mdb_strerror(rc))
        switch rc {
        case MDB_MAP_FULL:
            return JournalError(.mapFull, "journal map is full (\(what)); raise TANDEM_JOURNAL_MAX_MAP_BYTES or free disk space")
        case ENOSPC, EDQUOT:
            return JournalError(.diskFull, "no space left on the journal's file system (\(what)): \(reason); free space, then retry")
        default:
            return JournalError(.environment, "LMDB failed to \(what): \(reason) (\(rc))")
        }
    }

    package static func key(_ seq: UInt64) -> [UInt8] {
        withUnsafeBytes(of: seq.bigEndian) { Array($0) }
    }

    package static func seq(fromKey bytes: UnsafeRawBufferPointer) -> UInt64 {
        var value: UInt64 = 0
        for byte in bytes.prefix(8) { value = value << 8 | UInt64(byte) }
        return value
    }

    package static func get(_ txn: OpaquePointer, _ dbi: MDB_dbi, key: [UInt8]) throws -> [UInt8]? {
        try key.withUnsafeBytes { keyBytes in
            var k = MDB_val(mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
            var v = MDB_val()
            let rc = mdb_get(txn, dbi, &k, &v)
            if rc == MDB_NOTFOUND { return nil }
            try LMDBEnvironment.check(rc, "read")
            return Array(UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size))
        }
    }

    package static func put(_ txn: OpaquePointer, _ dbi: MDB_dbi, key: [UInt8], value: [UInt8], flags: UInt32 = 0) throws {
        try key.withUnsafeBytes { keyBytes in
            try value.withUnsafeBytes { valueBytes in
                var k = MDB_val(mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
                var v = MDB_val(mv_size: valueBytes.count, mv_data: UnsafeMutableRawPointer(mutating: valueBytes.baseAddress))
                try LMDBEnvironment.check(mdb_put(txn, dbi, &k, &v, flags), "write")
            }
        }
    }

    /// Deletes `key`; returns whether it existed.
    @discardableResult
    package static func delete(_ txn: OpaquePointer, _ dbi: MDB_dbi, key: [UInt8]) throws -> Bool {
        try key.withUnsafeBytes { keyBytes in
            var k = MDB_val(mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
            let rc = mdb_del(txn, dbi, &k, nil)
            if rc == MDB_NOTFOUND { return false }
            try LMDBEnvironment.check(rc, "delete")
            return true
        }
    }

    /// Walks a cursor over `dbi` from `startKey` (or the first key), calling `body` until it returns false.
    package static func walk(
        _ txn: OpaquePointer,
        _ dbi: MDB_dbi,
        from startKey: [UInt8]?,
        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        var cursor: OpaquePointer?
        try LMDBEnvironment.check(mdb_cursor_open(txn, dbi, &cursor), "open cursor")
        defer { mdb_cursor_close(cursor) }
        var k = MDB_val()
        var v = MDB_val()
        var rc: Int32
        if let startKey, !startKey.isEmpty {
            rc = startKey.withUnsafeBytes { keyBytes in
                k = MDB_val(mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
                return mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE)
            }
        } else {
            rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST)
        }
        while rc == 0 {
            let keep = try body(
                UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size),
                UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size)
            )
            if !keep { return }
            rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)
        }
        if rc != MDB_NOTFOUND { try LMDBEnvironment.check(rc, "iterate") }
    }

    /// The seqs of the run whose anchor is `anchor`, from the `run_entries` keys that start with it.
    package static func runSeqs(_ txn: OpaquePointer, _ dbi: MDB_dbi, anchor: UInt64, after: UInt64 = 0) throws -> [UInt64] {
        var seqs: [UInt64] = []
        try walk(txn, dbi, from: key(anchor) + key(after == .max ? after : after + 1)) { keyBytes, _ in
            guard keyBytes.count == 16, seq(fromKey: UnsafeRawBufferPointer(rebasing: keyBytes[0..<8])) == anchor else { return false }
            seqs.append(seq(fromKey: UnsafeRawBufferPointer(rebasing: keyBytes[8..<16])))
            return true
        }
        return seqs
    }
}
