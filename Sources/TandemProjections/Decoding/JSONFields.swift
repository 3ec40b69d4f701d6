#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The top-level members of one JSON object, located without building a value tree.
///
/// Folding a million journal entries a second leaves no time for `JSONDecoder`; projections only
/// need a handful of fields per event, so they scan the payload once, note where each member's
/// value lies, and decode just the values they use.
struct JSONFields {
    private let bytes: ArraySlice<UInt8>
    /// Where each member's key (without quotes) and value lie in `bytes`.
    private var members: [(key: Range<Int>, value: Range<Int>)] = []

    /// Scans the object in `bytes`; `nil` when it is not a well-formed JSON object.
    init?(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        members.reserveCapacity(8)  // event payloads have at most 8 members: one allocation
        var index = bytes.startIndex
        guard Self.skipWhitespace(bytes, &index), bytes[index] == UInt8(ascii: "{") else { return nil }
        index += 1
        guard Self.skipWhitespace(bytes, &index) else { return nil }
        if bytes[index] == UInt8(ascii: "}") { return }
        while true {
            guard Self.skipWhitespace(bytes, &index), bytes[index] == UInt8(ascii: "\"") else { return nil }
            let keyStart = index + 1
            guard Self.skipString(bytes, &index) else { return nil }
            let key = keyStart..<(index - 1)
            guard Self.skipWhitespace(bytes, &index), bytes[index] == UInt8(ascii: ":") else { return nil }
            index += 1
            guard Self.skipWhitespace(bytes, &index) else { return nil }
            let valueStart = index
            guard Self.skipValue(bytes, &index) else { return nil }
            members.append((key, valueStart..<index))
            guard Self.skipWhitespace(bytes, &index) else { return nil }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            guard bytes[index] == UInt8(ascii: "}") else { return nil }
            return
        }
    }

    /// The raw bytes of member `name`'s value.
    func raw(_ name: StaticString) -> ArraySlice<UInt8>? {
        let length = name.utf8CodeUnitCount
        let found: Range<Int>? = bytes.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return nil }
            for member in members where member.key.count == length
                && memcmp(base + (member.key.lowerBound - bytes.startIndex), name.utf8Start, length) == 0 {
                return member.value
            }
            return nil
        }
        return found.map { bytes[$0] }
    }

    /// Every member, keys decoded.
    var allMembers: [(String, ArraySlice<UInt8>)] {
        members.map { (Self.decodeString(bytes[($0.key.lowerBound - 1)..<($0.key.upperBound + 1)]) ?? "", bytes[$0.value]) }
    }

    func object(_ name: StaticString) -> JSONFields? {
        raw(name).flatMap { JSONFields($0) }
    }

    func string(_ name: StaticString) -> String? {
        raw(name).flatMap(Self.decodeString)
    }

    func double(_ name: StaticString) -> Double? {
        guard let raw = raw(name), let first = raw.first, first == UInt8(ascii: "-") || (first >= 48 && first <= 57) else { return nil }
        return Double(String(decoding: raw, as: UTF8.self))
    }

    /// The member as an `Int`; a number beyond `Int`'s range gives `Int.min` or `Int.max`, a
    /// fraction its integer part (journal entries may say anything: reading one never traps).
    func int(_ name: StaticString) -> Int? {
        guard let raw = raw(name) else { return nil }
        var value = 0
        var negative = false
        var overflow = false
        for (offset, byte) in raw.enumerated() {
            if offset == 0 && byte == UInt8(ascii: "-") {
                negative = true
                continue
            }
            guard byte >= 48 && byte <= 57 else { return double(name).flatMap(Self.saturatingInt) }
            let (times, overflowA) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflowB) = times.addingReportingOverflow(Int(byte - 48))
            if overflowA || overflowB { overflow = true } else { value = sum }
        }
        if overflow { return negative ? .min : .max }
        return negative ? -value : value
    }

    /// The member as an unsigned count: negative → 0, beyond `UInt64`'s range → `UInt64.max`.
    func uint(_ name: StaticString) -> UInt64? {
        guard let raw = raw(name) else { return nil }
        var value: UInt64 = 0
        for byte in raw {
            guard byte >= 48 && byte <= 57 else { return double(name).map { UInt64(saturating: $0) } }
            let (times, overflowA) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflowB) = times.addingReportingOverflow(UInt64(byte - 48))
            if overflowA || overflowB { return .max }
            value = sum
        }
        return value
    }

    private static func saturatingInt(_ value: Double) -> Int? {
        if value.isNaN { return nil }
        if value >= 9_223_372_036_854_775_808 { return .max }  // 2^63
        if value <= -9_223_372_036_854_775_808 { return .min }
        return Int(value)
    }

    func bool(_ name: StaticString) -> Bool? {
        guard let raw = raw(name) else { return nil }
        if raw.elementsEqual("true".utf8) { return true }
        if raw.elementsEqual("false".utf8) { return false }
        return nil
    }

    /// Whether member `name` is absent or `null`.
    func isNull(_ name: StaticString) -> Bool {
        guard let raw = raw(name) else { return true }
        return raw.elementsEqual("null".utf8)
    }

    // MARK: Scanning

    private static func skipWhitespace(_ bytes: ArraySlice<UInt8>, _ index: inout Int) -> Bool {
        while index < bytes.endIndex {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return true
            }
        }
        return false
    }

    /// Moves past a string whose opening quote is at `index`.
    private static func skipString(_ bytes: ArraySlice<UInt8>, _ index: inout Int) -> Bool {
        // Jump from quote to quote with memchr (answers are kilobytes long); a quote preceded by an
        // odd number of backslashes is escaped.
        let start = index + 1
        let found: Int? = bytes.withUnsafeBufferPointer { buffer -> Int? in
            guard let base = buffer.baseAddress else { return nil }
            var offset = start - bytes.startIndex
            while offset < buffer.count {
                guard let hit = memchr(base + offset, Int32(UInt8(ascii: "\"")), buffer.count - offset) else { return nil }
                let position = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                var backslashes = 0
                while position - backslashes - 1 >= 0, base[position - backslashes - 1] == UInt8(ascii: "\\") { backslashes += 1 }
                if backslashes % 2 == 0 { return position }
                offset = position + 1
            }
            return nil
        }
        guard let found else { return false }
        index = bytes.startIndex + found + 1
        return true
    }

    private static func skipValue(_ bytes: ArraySlice<UInt8>, _ index: inout Int) -> Bool {
        guard index < bytes.endIndex else { return false }
        switch bytes[index] {
        case UInt8(ascii: "\""):
            return skipString(bytes, &index)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            while index < bytes.endIndex {
                switch bytes[index] {
                case UInt8(ascii: "\""):
                    guard skipString(bytes, &index) else { return false }
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 {
                        index += 1
                        return true
                    }
                default: break
                }
                index += 1
            }
            return false
        default:
            let start = index
            while index < bytes.endIndex {
                switch bytes[index] {
                case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x0A, 0x0D, 0x09:
                    return index > start
                default: index += 1
                }
            }
            return index > start
        }
    }

    /// Decodes a JSON string literal (with its quotes).
    static func decodeString(_ raw: ArraySlice<UInt8>) -> String? {
        guard raw.count >= 2, raw.first == UInt8(ascii: "\""), raw.last == UInt8(ascii: "\"") else { return nil }
        let body = raw.dropFirst().dropLast()
        guard body.contains(UInt8(ascii: "\\")) else { return String(decoding: body, as: UTF8.self) }
        var out: [UInt8] = []
        out.reserveCapacity(body.count)
        var index = body.startIndex
        while index < body.endIndex {
            let byte = body[index]
            guard byte == UInt8(ascii: "\\"), index + 1 < body.endIndex else {
                out.append(byte)
                index += 1
                continue
            }
            let escape = body[index + 1]
            index += 2
            switch escape {
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "u"):
                guard index + 4 <= body.endIndex, var scalar = UInt32(String(decoding: body[index..<(index + 4)], as: UTF8.self), radix: 16) else { return nil }
                index += 4
                if (0xD800...0xDBFF).contains(scalar), index + 6 <= body.endIndex, body[index] == UInt8(ascii: "\\"),
                    let low = UInt32(String(decoding: body[(index + 2)..<(index + 6)], as: UTF8.self), radix: 16)
                {
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    index += 6
                }
                out += Array(String(Unicode.Scalar(scalar).map(Character.init) ?? "\u{FFFD}").utf8)
            default: out.append(escape)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
