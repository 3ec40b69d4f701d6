#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
package import TandemJournal

/// A batch of local journal entries made ready to ship: their chain hashes, the run records they
/// touch and their rows in `COPY` text format, built off the database's path (the shipper prepares
/// the next batch while PostgreSQL stores the current one).
package struct ShipBatch: Sendable {
    /// The node whose entries these are (the rows carry it too).
    let node: String
    /// Contiguous entries in seq order (never empty).
    let entries: [JournalEntry]
    /// The first entry whose `prev` is not the hash of the entry before it (a local journal whose
    /// chain is broken inside the batch); `nil` when the batch's chain holds.
    let brokenLinkSeq: UInt64?
    /// The SHA-256 (hex) of the last entry's line: the node's shipped hash once the batch is stored.
    let lastHash: String
    /// The records of the runs the entries touch, folded up to the last entry.
    let records: [FleetRunRecord]
    /// The local journal's head when the batch was read.
    let head: UInt64
    /// The rows of `tandem.journal` (columns ``columns``), one per entry.
    private let rows: [UInt8]
    /// Where each entry's row starts in ``rows``.
    private let rowStarts: [Int]

    /// The columns of ``rows(from:)``, in order.
    static let columns = ["node_id", "seq", "ts", "run_id", "type", "data", "line", "prev"]

    /// Builds the batch; `nil` when `entries` is empty.
    init?(node: String, entries: [JournalEntry], records: [FleetRunRecord], head: UInt64) {
        guard !entries.isEmpty else { return nil }
        self.node = node
        self.entries = entries
        self.records = records
        self.head = head
        var chain = ChainWalk(after: entries[0])
        brokenLinkSeq = entries.dropFirst().first { !chain.step($0) }?.seq
        // The walk stopped at a broken link, or hashed the last line.
        lastHash = brokenLinkSeq == nil ? String(decoding: chain.expectedPrev, as: UTF8.self) : entries[entries.count - 1].hash
        let nodeBytes = Array(node.utf8)
        var text = CopyText(reservingCapacity: entries.reduce(0) { $0 + $1.line.count * 2 + 160 })
        var starts: [Int] = []
        starts.reserveCapacity(entries.count)
        for entry in entries {
            starts.append(text.bytes.count)
            Self.appendRow(of: entry, node: nodeBytes, to: &text)
        }
        rows = text.bytes
        rowStarts = starts
    }

    /// Appends `entry`'s row of `tandem.journal` (columns ``columns``) to `text`. (`package`: the
    /// fleet benchmark writes its raw baseline's rows with it.)
    package static func appendRow(of entry: JournalEntry, node: [UInt8], to text: inout CopyText) {
        text.column(node, first: true)
        text.column(entry.seq)
        entry.withFieldBytes { fields in
            text.column(fields.timestamp)
            text.column(fields.runID)
            text.column(fields.type)
            if JSONBText.holdsEscapedNUL(fields.data) {
                text.column(JSONBText.replacingEscapedNUL(fields.data))
            } else {
                text.column(fields.data)
            }
            text.column(fields.line)
            text.column(fields.prev)
        }
        text.endRow()
    }

    var firstSeq: UInt64 { entries[0].seq }
    var lastSeq: UInt64 { entries[entries.count - 1].seq }

    /// The rows of the entries from index `index` on (those before it are already stored).
    func rows(from index: Int) -> ArraySlice<UInt8> {
        index < rowStarts.count ? rows[rowStarts[index]...] : []
    }
}

/// Text that PostgreSQL's `jsonb` accepts: it refuses the escaped NUL (`\u0000`) valid JSON may
/// hold, so derived `jsonb` columns carry U+FFFD there; `line` keeps the exact bytes.
enum JSONBText {
    /// Whether `json` holds an escaped NUL (most payloads do not, and are copied as they are).
    static func holdsEscapedNUL<Bytes: Collection<UInt8>>(_ json: Bytes) -> Bool {
        if let found = json.withContiguousStorageIfAvailable(holdsEscapedNUL(in:)) { return found }
        return Array(json).withUnsafeBufferPointer(holdsEscapedNUL(in:))
    }

    /// ``holdsEscapedNUL(_:)`` over contiguous bytes, finding backslashes with `memchr`.
    private static func holdsEscapedNUL(in json: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = json.baseAddress else { return false }
        let nul = "u0000".utf8
        var index = 0
        while index < json.count, let found = memchr(base + index, Int32(UInt8(ascii: "\\")), json.count - index) {
            let escape = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
            if UnsafeBufferPointer(rebasing: json[(escape + 1)...]).starts(with: nul) { return true }
            // The escaped character is skipped, so `\\u0000` (an escaped backslash) is not one.
            index = escape + 2
        }
        return false
    }

    /// `json` with every escaped NUL (`\u0000` that is an escape: after an even run of
    /// backslashes) replaced by `\ufffd`, byte for byte what ``FleetStore/jsonbOf(_:)`` gives in
    /// SQL (verify compares the two).
    static func replacingEscapedNUL<Bytes: Collection<UInt8>>(_ json: Bytes) -> [UInt8] {
        let backslash = UInt8(ascii: "\\")
        let nul = Array("u0000".utf8)
        var result: [UInt8] = []
        result.reserveCapacity(json.count)
        var rest = json[...]
        while let escape = rest.firstIndex(of: backslash) {
            result.append(contentsOf: rest[..<escape])
            // An escape is a backslash and the character after it; `\\` is one, so a backslash
            // after it starts a new one.
            let sequence = rest[rest.index(after: escape)...]
            if sequence.starts(with: nul) {
                result.append(contentsOf: #"\ufffd"#.utf8)
                rest = sequence.dropFirst(nul.count)
            } else {
                result.append(backslash)
                result.append(contentsOf: sequence.prefix(1))
                rest = sequence.dropFirst()
            }
        }
        result.append(contentsOf: rest)
        return result
    }
}
