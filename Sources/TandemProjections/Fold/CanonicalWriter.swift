/// Writes canonical JSON by hand (keys in sorted order, no spaces) for projection state, which is
/// stored and hashed byte for byte: the same state must always give the same bytes.
struct CanonicalWriter {
    private(set) var bytes: [UInt8] = []
    /// Per open container: whether its next element is its first (no comma before it).
    private var first: [Bool] = []
    /// A key was just written: its value takes no comma.
    private var afterKey = false

    init() {
        bytes.reserveCapacity(512)
    }

    mutating func beginObject() { open(UInt8(ascii: "{")) }
    mutating func endObject() { close(UInt8(ascii: "}")) }
    mutating func beginArray() { open(UInt8(ascii: "[")) }
    mutating func endArray() { close(UInt8(ascii: "]")) }

    private mutating func open(_ bracket: UInt8) {
        separate()
        bytes.append(bracket)
        first.append(true)
    }

    private mutating func close(_ bracket: UInt8) {
        bytes.append(bracket)
        first.removeLast()
    }

    /// Writes `"key":`; the next value belongs to it. Keys must be written in sorted order.
    mutating func key(_ key: String) {
        separate()
        appendString(key)
        bytes.append(UInt8(ascii: ":"))
        afterKey = true
    }

    private mutating func separate() {
        if afterKey {
            afterKey = false
            return
        }
        guard let isFirst = first.last else { return }
        if !isFirst { bytes.append(UInt8(ascii: ",")) }
        first[first.count - 1] = false
    }

    mutating func string(_ value: String) {
        separate()
        appendString(value)
    }

    mutating func raw(_ json: some Collection<UInt8>) {
        separate()
        bytes += json
    }

    mutating func null() {
        separate()
        bytes += Array("null".utf8)
    }

    mutating func bool(_ value: Bool) {
        separate()
        bytes += Array((value ? "true" : "false").utf8)
    }

    mutating func int(_ value: Int) {
        separate()
        bytes += Array(String(value).utf8)
    }

    mutating func uint(_ value: UInt64) {
        separate()
        bytes += Array(String(value).utf8)
    }

    /// A number with at most 3 decimals, written the shortest way (`12.5`, `400`).
    mutating func number(_ value: Double) {
        separate()
        guard value.isFinite else {
            bytes += Array("null".utf8)
            return
        }
        let rounded = (value * 1000).rounded() / 1000
        if rounded == rounded.rounded(), abs(rounded) < 1e15 {
            bytes += Array(String(Int64(rounded)).utf8)
        } else {
            bytes += Array("\(rounded)".utf8)
        }
    }

    mutating func field(_ name: String, _ value: String?) {
        key(name)
        if let value { string(value) } else { null() }
    }

    mutating func field(_ name: String, _ value: Double?) {
        key(name)
        if let value { number(value) } else { null() }
    }

    mutating func field(_ name: String, _ value: Int?) {
        key(name)
        if let value { int(value) } else { null() }
    }

    private mutating func appendString(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { utf8 in
            var runStart = 0
            for index in 0..<utf8.count {
                let byte = utf8[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
                runStart = index + 1
                switch byte {
                case UInt8(ascii: "\""): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
                case UInt8(ascii: "\\"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
                case 0x0A: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
                case 0x0D: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
                case 0x09: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
                default:
                    let hex = Array("0123456789abcdef".utf8)
                    bytes += Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
                }
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<utf8.count]))
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
