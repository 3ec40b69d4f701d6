import CLMDB

/// A read transaction: one consistent snapshot of a store, valid only inside the closure given to
/// ``Storage/read(_:)`` (or, as ``WriteTransaction/reads``, to ``Storage/write(_:)``).
///
/// `~Copyable` and handed to that closure `borrowing`: it cannot be copied, stored or returned,
/// so it cannot outlive the transaction it stands for. The closure is synchronous, so nothing
/// can suspend inside a transaction: an `await` in it does not compile. Not `Sendable`: a
/// transaction stays on the thread that began it.
package struct ReadTransaction: ~Copyable {
    let pointer: OpaquePointer
    let environment: LMDBEnvironment

    /// The value stored under `key` in `database`, copied out; `nil` when there is none.
    package func get(_ key: [UInt8], in database: Database) throws(StorageError) -> [UInt8]? {
        var value = MDB_val()
        let rc = key.withUnsafeBytes { keyBytes in
            var k = MDB_val(mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
            return mdb_get(pointer, database.dbi, &k, &value)
        }
        if rc == MDB_NOTFOUND { return nil }
        try environment.check(rc, "read")
        return Array(UnsafeRawBufferPointer(start: value.mv_data, count: value.mv_size))
    }

    /// Walks `database` in key order from `startKey` (the first key at or after it; the first key
    /// of all when `nil` or empty), calling `body` with each key and value until it returns false.
    /// The bytes are valid only inside `body`.
    package func walk(
        _ database: Database,
        from startKey: [UInt8]?,
        _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        let cursor = try openCursor(database)
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
        // Values of one page arrive one after another: load each new page whole, up front, and the
        // next one (most values are read from memory the CPU has not cached: a journal's replay,
        // verify and rebuild walk millions of them once each).
        var page = UInt(0)
        while rc == 0 {
            if let value = v.mv_data, UInt(bitPattern: value) >> 12 != page {
                page = UInt(bitPattern: value) >> 12
                tandem_prefetch_page(value)
            }
            let keep = try body(
                UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size),
                UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size)
            )
            if !keep { return }
            rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)
        }
        if rc != MDB_NOTFOUND { try environment.check(rc, "iterate") }
    }

    /// The last key of `database`, copied out; `nil` when it is empty.
    package func lastKey(in database: Database) throws(StorageError) -> [UInt8]? {
        let cursor = try openCursor(database)
        defer { mdb_cursor_close(cursor) }
        var k = MDB_val()
        var v = MDB_val()
        let rc = mdb_cursor_get(cursor, &k, &v, MDB_LAST)
        if rc == MDB_NOTFOUND { return nil }
        try environment.check(rc, "read last entry")
        return Array(UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size))
    }

    private func openCursor(_ database: Database) throws(StorageError) -> OpaquePointer? {
        var cursor: OpaquePointer?
        try environment.check(mdb_cursor_open(pointer, database.dbi, &cursor), "open cursor")
        return cursor
    }
}

@available(*, unavailable, message: "a transaction stays on the thread that began it")
extension ReadTransaction: Sendable {}

/// A write transaction, valid only inside the closure given to ``Storage/write(_:)``, which
/// commits it when the closure returns and aborts it when the closure throws.
///
/// `~Copyable`, handed over `borrowing`, synchronous and not `Sendable`, like
/// ``ReadTransaction``: it cannot escape its closure, and "never suspend inside a write
/// transaction" (LMDB requires it to begin and commit on one thread, and it holds the store's
/// single writer lock meanwhile) is a compile error, not a rule to remember.
package struct WriteTransaction: ~Copyable {
    /// The reads of this transaction: they see its own writes.
    package let reads: ReadTransaction

    init(pointer: OpaquePointer, environment: LMDBEnvironment) {
        reads = ReadTransaction(pointer: pointer, environment: environment)
    }

    /// Stores `value` under `key` in `database`, replacing what was there.
    /// - Parameter appending: the key sorts after every key of `database` (LMDB's `MDB_APPEND`,
    ///   which fills pages completely); a key that does not is an error.
    package func put(_ key: [UInt8], _ value: [UInt8], in database: Database, appending: Bool = false) throws(StorageError) {
        let flags = appending ? UInt32(MDB_APPEND) : 0
        let pointer = reads.pointer
        let rc = key.withUnsafeBytes { keyBytes in
            value.withUnsafeBytes { valueBytes in
                var k = MDB_val(mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
                var v = MDB_val(mv_size: valueBytes.count, mv_data: UnsafeMutableRawPointer(mutating: valueBytes.baseAddress))
                return mdb_put(pointer, database.dbi, &k, &v, flags)
            }
        }
        try reads.environment.check(rc, "write")
    }

    /// Deletes every key of `database` (the database itself stays).
    package func empty(_ database: Database) throws(StorageError) {
        try reads.environment.check(mdb_drop(reads.pointer, database.dbi, 0), "empty a database")
    }

    /// Deletes `key` from `database`.
    /// - Returns: whether it was there.
    @discardableResult
    package func delete(_ key: [UInt8], in database: Database) throws(StorageError) -> Bool {
        let pointer = reads.pointer
        let rc = key.withUnsafeBytes { keyBytes in
            var k = MDB_val(mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
            return mdb_del(pointer, database.dbi, &k, nil)
        }
        if rc == MDB_NOTFOUND { return false }
        try reads.environment.check(rc, "delete")
        return true
    }
}

@available(*, unavailable, message: "a transaction stays on the thread that began it")
extension WriteTransaction: Sendable {}
