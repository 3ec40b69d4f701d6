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
        // The runs between bytes to escape are copied whole, not a byte at a time.
        var rest = value[...]
        while let special = rest.firstIndex(where: Self.needsEscape) {
            bytes.append(contentsOf: rest[..<special])
            bytes.append(UInt8(ascii: "\\"))
            switch rest[special] {
            case UInt8(ascii: "\t"): bytes.append(UInt8(ascii: "t"))
            case UInt8(ascii: "\n"): bytes.append(UInt8(ascii: "n"))
            case UInt8(ascii: "\r"): bytes.append(UInt8(ascii: "r"))
            default: bytes.append(UInt8(ascii: "\\"))
            }
            rest = rest[rest.index(after: special)...]
        }
        bytes.append(contentsOf: rest)
    }

    private static func needsEscape(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "\\") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r")
    }

    /// Ends the current row.
    package mutating func endRow() {
        bytes.append(UInt8(ascii: "\n"))
    }
}
