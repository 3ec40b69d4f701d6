/// Builds rows of PostgreSQL's `COPY … FROM STDIN` text format: tab-separated columns, one row a
/// line, with `\`, tab, newline and carriage return escaped inside values. (`package`: the fleet
/// benchmark writes its raw baseline's rows with it.)
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
        for index in value.indices {
            let escaped: UInt8
            switch value[index] {
            case UInt8(ascii: "\t"): escaped = UInt8(ascii: "t")
            case UInt8(ascii: "\n"): escaped = UInt8(ascii: "n")
            case UInt8(ascii: "\r"): escaped = UInt8(ascii: "r")
            case UInt8(ascii: "\\"): escaped = UInt8(ascii: "\\")
            default: continue
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: value[start..<index]))
            bytes.append(UInt8(ascii: "\\"))
            bytes.append(escaped)
            start = index + 1
        }
        bytes.append(contentsOf: UnsafeBufferPointer(rebasing: value[start...]))
    }

    private mutating func appendEscaped(_ value: [UInt8]) {
        value.withUnsafeBufferPointer { appendEscaped($0) }
    }

    /// Ends the current row.
    package mutating func endRow() {
        bytes.append(UInt8(ascii: "\n"))
    }
}
