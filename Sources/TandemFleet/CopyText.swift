/// Builds rows of PostgreSQL's `COPY … FROM STDIN` text format: tab-separated columns, one row a
/// line, with `\`, tab, newline and carriage return escaped inside values.
struct CopyText {
    private(set) var bytes: [UInt8] = []

    init(reservingCapacity capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    /// Appends one column value (a separator goes before every column but the first of a row).
    mutating func column<Bytes: Sequence<UInt8>>(_ value: Bytes, first: Bool = false) {
        if !first { bytes.append(UInt8(ascii: "\t")) }
        for byte in value {
            switch byte {
            case UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "\t"): bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "t"))
            case UInt8(ascii: "\n"): bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "n"))
            case UInt8(ascii: "\r"): bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "r"))
            default: bytes.append(byte)
            }
        }
    }

    /// Ends the current row.
    mutating func endRow() {
        bytes.append(UInt8(ascii: "\n"))
    }
}
