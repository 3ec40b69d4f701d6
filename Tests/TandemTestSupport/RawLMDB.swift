import CLMDB

/// Direct access to a journal's LMDB files, bypassing tandem: what an attacker or a broken disk
/// could do. Used by tests to tamper with stored entries.
///
/// LMDB forbids opening one environment twice in a process, so use it through
/// ``withEnvironment(_:_:)``, which closes it before the test reopens the journal.
public final class RawLMDB {
    /// Opens the environment of the journal in data directory `dataDirectory` for `body`, then closes it.
    public static func withEnvironment<T>(_ dataDirectory: String, journalSubdirectory: Bool = true, _ body: (RawLMDB) throws -> T) throws -> T {
        let raw = try RawLMDB(directory: journalSubdirectory ? dataDirectory + "/journal" : dataDirectory)
        return try body(raw)
    }

    private var env: OpaquePointer?

    private init(directory: String) throws {
        try Self.check(mdb_env_create(&env))
        mdb_env_set_maxdbs(env, 8)
        try Self.check(mdb_env_open(env, directory, UInt32(MDB_NOTLS), 0o644))
    }

    deinit {
        mdb_env_close(env)
    }

    /// The stored line of `seq` in the `entries` database.
    public func line(_ seq: UInt64) throws -> [UInt8]? {
        try transaction(database: "entries") { txn, dbi in
            var key = Self.key(seq)
            return try key.withUnsafeMutableBytes { keyBytes in
                var k = MDB_val(mv_size: 8, mv_data: keyBytes.baseAddress)
                var v = MDB_val()
                let rc = mdb_get(txn, dbi, &k, &v)
                if rc == MDB_NOTFOUND { return nil }
                try Self.check(rc)
                return Array(UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size))
            }
        }
    }

    /// Overwrites the stored line of `seq`.
    public func replace(_ seq: UInt64, with line: [UInt8]) throws {
        try put(database: "entries", key: Self.key(seq), value: line)
    }

    /// Deletes the stored line of `seq`.
    public func delete(_ seq: UInt64) throws {
        try transaction(database: "entries") { txn, dbi in
            var key = Self.key(seq)
            try key.withUnsafeMutableBytes { keyBytes in
                var k = MDB_val(mv_size: 8, mv_data: keyBytes.baseAddress)
                try Self.check(mdb_del(txn, dbi, &k, nil))
            }
        }
    }

    /// Whether the environment has a database named `name`.
    public func hasDatabase(_ name: String) throws -> Bool {
        do {
            return try transaction(database: name) { _, _ in true }
        } catch let error as RawLMDBError where error.code == MDB_NOTFOUND {
            return false
        }
    }

    /// Writes `value` under `key` in the named database (made first when `creating`).
    public func put(database: String, key: [UInt8], value: [UInt8], creating: Bool = false) throws {
        try transaction(database: database, creating: creating) { txn, dbi in
            var key = key
            var value = value
            try key.withUnsafeMutableBytes { keyBytes in
                try value.withUnsafeMutableBytes { valueBytes in
                    var k = MDB_val(mv_size: keyBytes.count, mv_data: keyBytes.baseAddress)
                    var v = MDB_val(mv_size: valueBytes.count, mv_data: valueBytes.baseAddress)
                    try Self.check(mdb_put(txn, dbi, &k, &v, 0))
                }
            }
        }
    }

    private func transaction<T>(database: String, creating: Bool = false, _ body: (OpaquePointer, MDB_dbi) throws -> T) throws -> T {
        var txn: OpaquePointer?
        try Self.check(mdb_txn_begin(env, nil, 0, &txn))
        var dbi: MDB_dbi = 0
        do {
            try Self.check(mdb_dbi_open(txn, database, creating ? UInt32(MDB_CREATE) : 0, &dbi))
            let result = try body(txn!, dbi)
            try Self.check(mdb_txn_commit(txn))
            return result
        } catch {
            mdb_txn_abort(txn)
            throw error
        }
    }

    private static func key(_ seq: UInt64) -> [UInt8] {
        withUnsafeBytes(of: seq.bigEndian) { Array($0) }
    }

    private static func check(_ rc: Int32) throws {
        if rc != 0 { throw RawLMDBError(code: rc, message: String(cString: mdb_strerror(rc))) }
    }
}

/// An LMDB error seen by ``RawLMDB``.
public struct RawLMDBError: Error {
    public let code: Int32
    public let message: String
}
