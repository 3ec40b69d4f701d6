/// One committed journal entry: its sequence number and the exact bytes of its canonical line
/// (`{"seq":N,"ts":"…","run_id":"…","type":"…","data":{…},"prev":"<64 hex>"}`, no newline).
///
/// The line is the unit of the hash chain: the next entry's `prev` is the SHA-256 of these bytes.
public struct JournalEntry: Sendable, Equatable {
    /// The journal sequence number, from 1, without gaps.
    public let seq: UInt64
    /// The canonical line, exactly as stored.
    public let line: [UInt8]
    /// Where the fields sit inside ``line``.
    let layout: EntryLine.Layout

    /// Parses a stored line.
    /// - Throws: ``JournalError`` `.invalidEntry` when the line is not a canonical entry.
    public init(line: [UInt8]) throws {
        let layout = try line.withUnsafeBytes { try EntryLine.parse($0) }
        self.init(seq: layout.seq, line: line, layout: layout)
    }

    init(seq: UInt64, line: [UInt8], layout: EntryLine.Layout) {
        self.seq = seq
        self.line = line
        self.layout = layout
    }

    /// The commit time, `YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC, microseconds).
    public var timestamp: String { String(decoding: line[layout.ts], as: UTF8.self) }
    /// The run the entry belongs to.
    public var runID: RunID { RunID(uncheckedBytes: line[layout.runID]) }
    /// The largest seq a journal may reach: 2^62 (at a million appends a second, 146,000 years).
    /// A larger seq read from a file (a line, the head record, a key) is damage; the margin keeps
    /// `seq + 1` and the verifier's segment arithmetic clear of overflow.
    static let largestSeq: UInt64 = 1 << 62

    /// The run id's bytes (ASCII), for readers that group entries by run without making a String.
    public var runIDUTF8: ArraySlice<UInt8> { line[layout.runID] }
    /// The event type.
    public var type: String { String(decoding: line[layout.type], as: UTF8.self) }
    /// The event type's bytes (ASCII), for readers that classify entries without making a String.
    public var typeUTF8: ArraySlice<UInt8> { line[layout.type] }
    /// The event payload, one JSON object.
    public var data: ArraySlice<UInt8> { line[layout.data] }
    /// The SHA-256 (hex) of the previous entry's line; 64 zeros for seq 1.
    public var prev: String { String(decoding: line[layout.prev], as: UTF8.self) }
    /// The line as text.
    public var text: String { String(decoding: line, as: UTF8.self) }
    /// The SHA-256 (hex) of this entry's line: the next entry's `prev`.
    public var hash: String { ChainHash.hex(of: line) }

    /// Calls `body` with the line's fields as byte buffers, valid only while `body` runs: for
    /// writers that copy an entry's fields without making Strings or slices (the fleet
    /// shipper's rows).
    public func withFieldBytes<Result>(_ body: (EntryFieldBytes) throws -> Result) rethrows -> Result {
        try line.withUnsafeBufferPointer { line in
            try body(EntryFieldBytes(
                line: line, timestamp: UnsafeBufferPointer(rebasing: line[layout.ts]), runID: UnsafeBufferPointer(rebasing: line[layout.runID]),
                type: UnsafeBufferPointer(rebasing: line[layout.type]), data: UnsafeBufferPointer(rebasing: line[layout.data]),
                prev: UnsafeBufferPointer(rebasing: line[layout.prev])
            ))
        }
    }

}

/// An entry's fields as the bytes of its line (see ``JournalEntry/withFieldBytes(_:)``).
public struct EntryFieldBytes {
    public let line: UnsafeBufferPointer<UInt8>
    public let timestamp: UnsafeBufferPointer<UInt8>
    public let runID: UnsafeBufferPointer<UInt8>
    public let type: UnsafeBufferPointer<UInt8>
    public let data: UnsafeBufferPointer<UInt8>
    public let prev: UnsafeBufferPointer<UInt8>
}

extension RunID {
    /// Builds a run id from bytes the entry parser has already validated.
    init(uncheckedBytes: ArraySlice<UInt8>) {
        self.init(validatedRawValue: String(decoding: uncheckedBytes, as: UTF8.self))
    }
}
