/// Writes canonical JSON by hand — keys in the order the caller writes them (sorted), no spaces,
/// strings escaped exactly as ``CanonicalJSON`` (Foundation's `JSONEncoder`) escapes them — for
/// what is written often and hashed or compared byte for byte: journal payloads, SSE frames,
/// projection state. No intermediate tree, no reflection.
package struct CanonicalWriter {
    package private(set) var bytes: [UInt8] = []
    /// A number JSON cannot hold (NaN, infinity) was written: the bytes are not valid JSON.
    package private(set) var hasInvalidNumber = false
    /// Per open container: whether its next element is its first (no comma before it) — bit n
    /// for depth n + 1 up to 64 deep, then `deeperFirst` (a client's context may nest deeper).
    private var first: UInt64 = 0
    private var deeperFirst: [Bool] = []
    private var depth = 0
    /// A key was just written: its value takes no comma.
    private var afterKey = false

    package init(capacity: Int = 1_024) {
        bytes.reserveCapacity(capacity)
    }

    package mutating func beginObject() { open(UInt8(ascii: "{")) }
    package mutating func endObject() { close(UInt8(ascii: "}")) }
    package mutating func beginArray() { open(UInt8(ascii: "[")) }
    package mutating func endArray() { close(UInt8(ascii: "]")) }

    private mutating func open(_ bracket: UInt8) {
        separate()
        bytes.append(bracket)
        depth += 1
        if depth <= 64 { first |= 1 << UInt64(depth - 1) } else { deeperFirst.append(true) }
    }

    private mutating func close(_ bracket: UInt8) {
        bytes.append(bracket)
        if depth > 64 { deeperFirst.removeLast() }
        depth -= 1
    }

    /// Writes `"key":`; the next value belongs to it. Keys must be written in sorted order, and a
    /// literal key must need no escaping (it is copied as is).
    package mutating func key(_ key: StaticString) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        append(key)
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
        afterKey = true
    }

    /// Writes `"key":` for a key known only at run time (escaped as a string).
    package mutating func key(escaping key: String) {
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
        guard depth > 0 else { return }
        if depth > 64 {
            if !deeperFirst[deeperFirst.count - 1] { bytes.append(UInt8(ascii: ",")) }
            deeperFirst[deeperFirst.count - 1] = false
            return
        }
        let bit: UInt64 = 1 << UInt64(depth - 1)
        if first & bit == 0 { bytes.append(UInt8(ascii: ",")) }
        first &= ~bit
    }

    package mutating func string(_ value: String) {
        separate()
        appendString(value)
    }

    package mutating func raw(_ json: some Collection<UInt8>) {
        separate()
        bytes += json
    }

    package mutating func null() {
        separate()
        append("null")
    }

    package mutating func bool(_ value: Bool) {
        separate()
        append(value ? "true" : "false")
    }

    package mutating func int(_ value: Int) {
        separate()
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        appendDecimal(value.magnitude)
    }

    package mutating func uint(_ value: UInt64) {
        separate()
        appendDecimal(value)
    }

    /// A number as `JSONEncoder` writes it: integral values up to 2^53 as integers, others in
    /// their shortest form (`12.5`, `1e-07`). NaN and infinity are written as `null` and flagged.
    package mutating func double(_ value: Double) {
        separate()
        guard value.isFinite else {
            hasInvalidNumber = true
            append("null")
            return
        }
        if value == value.rounded(), abs(value) <= 9_007_199_254_740_992 {
            if value < 0 || (value == 0 && value.sign == .minus) { bytes.append(UInt8(ascii: "-")) }
            appendDecimal(UInt64(abs(value)))
        } else {
            bytes += Array(value.description.utf8)
        }
    }

    /// A number with at most 3 decimals, written the shortest way (`12.5`, `400`).
    package mutating func number(_ value: Double) {
        separate()
        guard value.isFinite else {
            bytes += Array("null".utf8)
            return
        }
        let rounded = (value * 1000).rounded() / 1000
        if rounded == rounded.rounded(), abs(rounded) < 1e15 {
            let integer = Int64(rounded)
            if integer < 0 { bytes.append(UInt8(ascii: "-")) }
            appendDecimal(integer.magnitude)
        } else {
            bytes += Array("\(rounded)".utf8)
        }
    }

    package mutating func field(_ name: StaticString, _ value: String?) {
        key(name)
        if let value { string(value) } else { null() }
    }

    package mutating func field(_ name: StaticString, _ value: Double?) {
        key(name)
        if let value { number(value) } else { null() }
    }

    package mutating func field(_ name: StaticString, _ value: Int?) {
        key(name)
        if let value { int(value) } else { null() }
    }

    /// The lower-case hex digit of `nibble` (0...15).
    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }

    private mutating func append(_ literal: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    /// Appends the decimal digits of `value`.
    private mutating func appendDecimal(_ value: some UnsignedInteger & FixedWidthInteger) {
        guard value >= 10 else {
            bytes.append(UInt8(ascii: "0") + UInt8(value))
            return
        }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for any UInt64
        withUnsafeMutableBytes(of: &digits) { buffer in
            var rest = UInt64(value)
            var index = buffer.count
            while rest > 0 {
                index -= 1
                buffer[index] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            }
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[index...]))
        }
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
                bytes.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): bytes.append(byte)
                case 0x0A: bytes.append(UInt8(ascii: "n"))
                case 0x0D: bytes.append(UInt8(ascii: "r"))
                case 0x09: bytes.append(UInt8(ascii: "t"))
                case 0x08: bytes.append(UInt8(ascii: "b"))
                case 0x0C: bytes.append(UInt8(ascii: "f"))
                default:
                    append("u00")
                    bytes.append(Self.hexDigit(byte >> 4))
                    bytes.append(Self.hexDigit(byte & 0xF))
                }
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<utf8.count]))
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
