#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
package import TandemJournal

/// A batch of local journal entries made ready to ship: their chain hashes, the run records they
/// touch and their rows of `tandem.journal`, built off the database's path (the shipper prepares
/// the next batch while PostgreSQL stores the current one).
package struct ShipBatch: Sendable {
    /// The node whose entries these are.
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
    /// The rows of `tandem.journal`, one per entry.
    private let rows: JournalRows

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
        rows = JournalRows(entries)
    }

    /// The first entry whose line is not text PostgreSQL can hold (not valid UTF-8, or a NUL
    /// byte; the journal writes neither, so the local file was altered); `nil` when every line is.
    var invalidTextSeq: UInt64? { rows.firstInvalidLine.map { entries[$0].seq } }

    var firstSeq: UInt64 { entries[0].seq }
    var lastSeq: UInt64 { entries[entries.count - 1].seq }

    /// The rows of the entries from index `index` on (those before it are already stored).
    func rows(from index: Int) -> JournalRows {
        index == 0 ? rows : rows.dropFirst(index)
    }
}

/// Rows of `tandem.journal` as the ship transaction binds them: one array per column, inserted by
/// `INSERT … SELECT … FROM unnest(…)` (``FleetStore``). Not `COPY`: postgres-nio 1.33.2 traps
/// (`preconditionFailure`) when a connection closes while a `COPY` is being ended, so a network
/// reset mid-ship killed the server (docs/DESIGN.md, "Shipping speed"). (`package`: the fleet
/// benchmark writes its raw baseline's `COPY` rows from them.)
package struct JournalRows: Sendable {
    private(set) var seqs: [Int64] = []
    private(set) var timestamps: [String] = []
    private(set) var runIDs: [String] = []
    private(set) var types: [String] = []
    /// The payloads as `jsonb` takes them (``JSONBText``): an escaped NUL becomes U+FFFD.
    private(set) var data: [String] = []
    private(set) var lines: [String] = []
    private(set) var prevs: [String] = []
    /// The index of the first entry whose line is not valid UTF-8 or holds a NUL byte (its texts
    /// are then repaired with U+FFFD here, and the batch must not be stored).
    private(set) var firstInvalidLine: Int?

    package init(_ entries: [JournalEntry]) {
        for column in [\JournalRows.timestamps, \.runIDs, \.types, \.data, \.lines, \.prevs] {
            self[keyPath: column].reserveCapacity(entries.count)
        }
        seqs.reserveCapacity(entries.count)
        for (index, entry) in entries.enumerated() {
            // A journal's seqs are below 2^63 (the writer's counter); a larger one would be refused
            // by PostgreSQL's bigint anyway, and the clamp keeps the conversion from trapping.
            seqs.append(Int64(clamping: entry.seq))
            entry.withFieldBytes { fields in
                timestamps.append(String(decoding: fields.timestamp, as: UTF8.self))
                runIDs.append(String(decoding: fields.runID, as: UTF8.self))
                types.append(String(decoding: fields.type, as: UTF8.self))
                if JSONBText.holdsEscapedNUL(fields.data) {
                    data.append(String(decoding: JSONBText.replacingEscapedNUL(fields.data), as: UTF8.self))
                } else {
                    data.append(String(decoding: fields.data, as: UTF8.self))
                }
                // The other columns are pieces of the line cut at ASCII bytes: valid when it is.
                if let base = fields.line.baseAddress, memchr(base, 0, fields.line.count) != nil {
                    lines.append(String(decoding: fields.line, as: UTF8.self))
                    if firstInvalidLine == nil { firstInvalidLine = index }
                } else if let line = String(validating: fields.line, as: UTF8.self) {
                    lines.append(line)
                } else {
                    lines.append(String(decoding: fields.line, as: UTF8.self))
                    if firstInvalidLine == nil { firstInvalidLine = index }
                }
                prevs.append(String(decoding: fields.prev, as: UTF8.self))
            }
        }
    }

    private init() {}

    var count: Int { seqs.count }

    /// These rows without the first `count`.
    func dropFirst(_ count: Int) -> JournalRows {
        var rest = JournalRows()
        rest.seqs = Array(seqs.dropFirst(count))
        rest.timestamps = Array(timestamps.dropFirst(count))
        rest.runIDs = Array(runIDs.dropFirst(count))
        rest.types = Array(types.dropFirst(count))
        rest.data = Array(data.dropFirst(count))
        rest.lines = Array(lines.dropFirst(count))
        rest.prevs = Array(prevs.dropFirst(count))
        rest.firstInvalidLine = firstInvalidLine.flatMap { $0 >= count ? $0 - count : nil }
        return rest
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
