/// Builds rows of PostgreSQL's `COPY … FROM STDIN` text format: tab-separated columns, one row a
/// line, with `\`, tab, newline and carriage return escaped inside values. The fleet benchmark's
/// raw baseline (`psql \copy` of the rows the shipper stores) is written with it; the shipper
/// itself binds arrays (``JournalRows``).
package struct CopyText {
    package private(set) var bytes: [UInt8] = []

    package init(reservingCapacity capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    /// Appends one column value (a separator goes before every column but the first of a row).
    package mutating func column<Bytes: Collection<UInt8>>(_ value: Bytes, first: Bool = false) {
        if !first { bytes.append(UInt8(ascii: "\t")) }
        let copied: Void? = value.withContiguousStorageIfAvailable { appendEscaped($0) }
        if copied == nil { appendEscaped(Array(value)) }
    }

    /// Appends a number column (never the first of a row), its digits written in place.
    package mutating func column(_ number: UInt64) {
        bytes.append(UInt8(ascii: "\t"))
        let start = bytes.count
        var rest = number
        repeat {
            bytes.append(UInt8(ascii: "0") + UInt8(rest % 10))
            rest /= 10
        } while rest > 0
        bytes[start...].reverse()
    }

    /// Appends `value` escaped; the runs between bytes to escape are copied whole.
    private mutating func appendEscaped(_ value: UnsafeBufferPointer<UInt8>) {
        var start = 0
        var index = 0
        while let special = Self.firstCandidate(in: value, from: index) {
            index = special + 1
            let escaped: UInt8
            switch value[special] {
            case UInt8(ascii: "\t"): escaped = UInt8(ascii: "t")
            case UInt8(ascii: "\n"): escaped = UInt8(ascii: "n")
            case UInt8(ascii: "\r"): escaped = UInt8(ascii: "r")
            case UInt8(ascii: "\\"): escaped = UInt8(ascii: "\\")
            default: continue
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: value[start..<special]))
            bytes.append(UInt8(ascii: "\\"))
            bytes.append(escaped)
            start = index
        }
        bytes.append(contentsOf: UnsafeBufferPointer(rebasing: value[start...]))
    }

    /// The index of the first byte at or after `from` that may need escaping: a backslash or a
    /// control byte (tab, newline and carriage return are among them; the caller sorts them out).
    /// Eight bytes are looked at per step: a canonical journal line has no control bytes and
    /// few backslashes, and a byte-by-byte scan was a fifth of the shipper's reading thread.
    private static func firstCandidate(in value: UnsafeBufferPointer<UInt8>, from: Int) -> Int? {
        guard let base = value.baseAddress else { return nil }
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        var index = from
        while value.count - index >= 8 {
            let word = UInt64(littleEndian: UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self))
            // A byte below 0x20, or a byte equal to 0x5C (zero after the xor): the classic
            // "has a byte less than n" test, exact for n <= 128.
            let control = (word &- ones &* 0x20) & ~word & highs
            let backslashes = word ^ (ones &* 0x5C)
            let backslash = (backslashes &- ones) & ~backslashes & highs
            if control | backslash != 0 { break }
            index += 8
        }
        while index < value.count {
            let byte = value[index]
            if byte < 0x20 || byte == UInt8(ascii: "\\") { return index }
            index += 1
        }
        return nil
    }

    private mutating func appendEscaped(_ value: [UInt8]) {
        value.withUnsafeBufferPointer { appendEscaped($0) }
    }

    /// Ends the current row.
    package mutating func endRow() {
        bytes.append(UInt8(ascii: "\n"))
    }

    /// Appends `rows` as the shipper stores them in `tandem.journal` (columns `node_id`, `seq`,
    /// `ts`, `run_id`, `type`, `data`, `line`, `prev`), all with `node`.
    package mutating func append(_ rows: JournalRows, node: [UInt8]) {
        for index in 0..<rows.count {
            column(node, first: true)
            column(UInt64(clamping: rows.seqs[index]))
            for text in [rows.timestamps[index], rows.runIDs[index], rows.types[index], rows.data[index], rows.lines[index], rows.prevs[index]] {
                column(text.utf8)
            }
            endRow()
        }
    }
}
