import TandemStorage

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

    static func read(_ txn: borrowing ReadTransaction, _ storage: JournalStore) throws -> JournalHead {
        guard let value = try txn.get(metaKey, in: storage.meta) else { return .empty }
        guard value.count == 8 + 64 else {
            throw JournalError(.corrupted, "the journal's head record is damaged (\(value.count) bytes); run `tandem journal verify`")
        }
        let seq = SeqKey.decode(value)
        // The next append takes seq + 1: a damaged head must not make that overflow.
        guard seq <= JournalEntry.largestSeq else {
            throw JournalError(.corrupted, "the journal's head record is damaged (seq \(seq)); run `tandem journal verify`")
        }
        return JournalHead(seq: seq, hash: Array(value[8...]))
    }

    func write(_ txn: borrowing WriteTransaction, _ storage: JournalStore) throws {
        try txn.put(Self.metaKey, SeqKey.encode(seq) + hash, in: storage.meta)
    }
}
