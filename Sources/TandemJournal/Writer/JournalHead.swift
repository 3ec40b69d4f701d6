/// The journal's head: the last committed seq and the SHA-256 (hex) of its line.
public struct JournalHead: Sendable, Equatable {
    /// The last committed seq; 0 for an empty journal.
    public var seq: UInt64
    /// 64 lowercase hex ASCII bytes; 64 zeros for an empty journal.
    public var hash: [UInt8]

    /// The hash as text.
    public var hashHex: String { String(decoding: hash, as: UTF8.self) }

    static let empty = JournalHead(seq: 0, hash: ChainHash.genesis)
    private static let metaKey = Array("head".utf8)

    static func read(_ txn: OpaquePointer, _ environment: LMDBEnvironment) throws -> JournalHead {
        guard let value = try LMDB.get(txn, environment.meta, key: metaKey) else { return .empty }
        guard value.count == 8 + 64 else {
            throw JournalError(.corrupted, "the journal's head record is damaged (\(value.count) bytes); run `tandem journal verify`")
        }
        let seq = value.withUnsafeBytes { LMDB.seq(fromKey: $0) }
        return JournalHead(seq: seq, hash: Array(value[8...]))
    }

    func write(_ txn: OpaquePointer, _ environment: LMDBEnvironment) throws {
        try LMDB.put(txn, environment.meta, key: Self.metaKey, value: LMDB.key(seq) + hash)
    }
}
