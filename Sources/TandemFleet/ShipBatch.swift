import TandemJournal

/// A batch of local journal entries made ready to ship: their chain hashes, the run records they
/// touch and their rows in `COPY` text format, built off the database's path (the shipper prepares
/// the next batch while PostgreSQL stores the current one).
struct ShipBatch: Sendable {
    /// The node whose entries these are (the rows carry it too).
    let node: String
    /// Contiguous entries in seq order (never empty).
    let entries: [JournalEntry]
    /// The SHA-256 (hex) of each entry's line.
    let hashes: [String]
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
        hashes = entries.map(\.hash)
        var text = CopyText(reservingCapacity: entries.reduce(0) { $0 + $1.line.count * 2 + 160 })
        var starts: [Int] = []
        starts.reserveCapacity(entries.count)
        for entry in entries {
            starts.append(text.bytes.count)
            text.column(node.utf8, first: true)
            text.column(String(entry.seq).utf8)
            text.column(entry.timestamp.utf8)
            text.column(entry.runID.rawValue.utf8)
            text.column(entry.typeUTF8)
            text.column(JSONBText.replacingEscapedNUL(entry.data))
            text.column(entry.line)
            text.column(entry.prev.utf8)
            text.endRow()
        }
        rows = text.bytes
        rowStarts = starts
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
