import CLMDB

/// What a store keeps in its LMDB environment: its name, its format marker and its databases.
///
/// A store declares its databases as stored ``Database`` properties resolved in
/// ``init(resolving:)``, which ``Storage`` calls once, at open, inside the opening transaction.
/// Code then names a database by property (`schema.entries`): a misspelled name does not compile,
/// and a database the files lack fails the open (read-only) or is created (read-write) — no
/// lookup by name happens later, so nothing can fall back to LMDB's unnamed main database.
/// Every store also has `meta` (``Storage/meta``), which holds its format marker.
package protocol StorageSchema: Sendable {
    /// The store's name in messages: "journal", "projection store".
    static var store: String { get }
    /// The format marker stored under `format` in `meta`; an environment with another is refused.
    static var format: String { get }
    /// Resolves every database of the store by calling `database` with its name, once each.
    init(resolving database: (_ name: String) throws(StorageError) -> Database) throws(StorageError)
}

/// A handle of one of a store's databases, resolved when the store was opened.
///
/// Only ``Storage`` makes them (there is no public initializer), so every handle names a
/// database that exists in its environment.
package struct Database: Sendable, Hashable {
    let dbi: MDB_dbi

    init(_ dbi: MDB_dbi) {
        self.dbi = dbi
    }
}

/// How a store's memory map grows when a write finds it full: it doubles, up to ``limit``.
package struct MapGrowth: Sendable {
    /// The largest the map may grow to.
    package var limit: Int
    /// The setting an operator raises when the map is at ``limit`` (named in the map-full
    /// error), or `nil` when there is none.
    package var limitSetting: String?

    package init(limit: Int, limitSetting: String?) {
        self.limit = limit
        self.limitSetting = limitSetting
    }
}

/// Encodes sequence numbers as keys that sort in numeric order (8 bytes, big-endian).
package enum SeqKey {
    /// The key of `seq`.
    package static func encode(_ seq: UInt64) -> [UInt8] {
        withUnsafeBytes(of: seq.bigEndian) { Array($0) }
    }

    /// The seq of a key written by ``encode(_:)`` (its first 8 bytes).
    package static func decode(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var value: UInt64 = 0
        for byte in bytes.prefix(8) { value = value << 8 | UInt64(byte) }
        return value
    }

    /// The seq of a stored value or key copied out of a transaction.
    package static func decode(_ bytes: [UInt8]) -> UInt64 {
        bytes.withUnsafeBytes { decode($0) }
    }
}
