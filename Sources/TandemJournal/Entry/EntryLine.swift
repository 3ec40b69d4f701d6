#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Builds and parses canonical journal lines:
/// `{"seq":N,"ts":"2026-11-28T08:05:30.123456Z","run_id":"…","type":"…","data":{…},"prev":"<64 hex>"}`.
///
/// The envelope has a fixed shape, so parsing it is a walk over known prefixes — no JSON parser —
/// which is what lets `verify` and replay run at millions of lines per second.
enum EntryLine {
    /// Byte ranges of the envelope's fields inside a line.
    struct Layout: Sendable, Equatable {
        var seq: UInt64
        var ts: Range<Int>
        var runID: Range<Int>
        var type: Range<Int>
        var data: Range<Int>
        var prev: Range<Int>
    }

    // The envelope's fixed parts, as static text: reading them costs no reference counting.
    private static let seqPrefix: StaticString = #"{"seq":"#
    private static let tsPrefix: StaticString = #","ts":""#
    private static let runPrefix: StaticString = #"","run_id":""#
    private static let typePrefix: StaticString = #"","type":""#
    private static let dataPrefix: StaticString = #"","data":"#
    private static let prevPrefix: StaticString = #","prev":""#
    private static let suffix: StaticString = #""}"#
    /// Length of `,"prev":"<64 hex>"}`.
    static let prevTailLength = 9 + 64 + 2
    static let timestampLength = 27

    /// Appends the canonical line of `entry` to `line` (which must be empty) and returns its layout.
    static func build(
        into line: inout [UInt8],
        seq: UInt64,
        timestamp: [UInt8],
        entry: PendingEntry,
        prev: [UInt8]
    ) -> Layout {
        line.reserveCapacity(entry.data.count + 200)
        append(seqPrefix, to: &line)
        appendDecimal(seq, to: &line)
        append(tsPrefix, to: &line)
        let ts = line.count..<(line.count + timestamp.count)
        line.append(contentsOf: timestamp)
        append(runPrefix, to: &line)
        let runStart = line.count
        line.append(contentsOf: entry.runID.rawValue.utf8)
        let runID = runStart..<line.count
        append(typePrefix, to: &line)
        let typeStart = line.count
        line.append(contentsOf: entry.type.utf8)
        let type = typeStart..<line.count
        append(dataPrefix, to: &line)
        let data = line.count..<(line.count + entry.data.count)
        line.append(contentsOf: entry.data)
        append(prevPrefix, to: &line)
        let prevRange = line.count..<(line.count + prev.count)
        line.append(contentsOf: prev)
        append(suffix, to: &line)
        return Layout(seq: seq, ts: ts, runID: runID, type: type, data: data, prev: prevRange)
    }

    /// Locates the envelope's fields.
    /// - Throws: ``JournalError`` `.invalidEntry` naming what is wrong.
    static func parse(_ bytes: UnsafeRawBufferPointer) throws -> Layout {
        var index = 0
        func expect(_ literal: StaticString, _ what: String) throws {
            guard bytes.count - index >= literal.utf8CodeUnitCount else { throw malformed("truncated before \(what)") }
            guard matches(literal, in: bytes, at: index) else { throw malformed("expected \(what) at byte \(index)") }
            index += literal.utf8CodeUnitCount
        }
        func scan(until terminator: UInt8, _ what: String, allowed: (UInt8) -> Bool) throws -> Range<Int> {
            let start = index
            while index < bytes.count, bytes[index] != terminator {
                guard allowed(bytes[index]) else { throw malformed("bad character in \(what) at byte \(index)") }
                index += 1
            }
            guard index < bytes.count, index > start else { throw malformed("empty or unterminated \(what)") }
            return start..<index
        }

        try expect(seqPrefix, "{\"seq\":")
        var seq: UInt64 = 0
        let seqStart = index
        while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
            let (times, o1) = seq.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times.addingReportingOverflow(UInt64(bytes[index] - UInt8(ascii: "0")))
            guard !o1, !o2 else { throw malformed("seq overflows") }
            seq = sum
            index += 1
        }
        guard index > seqStart, seq > 0, bytes[seqStart] != UInt8(ascii: "0") else { throw malformed("seq must be a positive integer") }
        guard seq <= JournalEntry.largestSeq else { throw malformed("seq is beyond any journal's range") }
        try expect(tsPrefix, "\"ts\"")
        let tsStart = index
        index += timestampLength
        guard index <= bytes.count, bytes[index - 1] == UInt8(ascii: "Z") else { throw malformed("ts must be \(timestampLength) characters ending in Z") }
        let ts = tsStart..<index
        try expect(runPrefix, "\"run_id\"")
        let runID = try scan(until: UInt8(ascii: "\""), "run_id", allowed: RunID.isAllowed)
        guard runID.count <= 64 else { throw malformed("run_id longer than 64 characters") }
        try expect(typePrefix, "\"type\"")
        let type = try scan(until: UInt8(ascii: "\""), "type") {
            ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || $0 == UInt8(ascii: "_")
        }
        try expect(dataPrefix, "\"data\"")
        let dataStart = index
        let dataEnd = bytes.count - prevTailLength
        guard dataEnd > dataStart, bytes[dataStart] == UInt8(ascii: "{"), bytes[dataEnd - 1] == UInt8(ascii: "}") else {
            throw malformed("data must be a JSON object")
        }
        index = dataEnd
        try expect(prevPrefix, "\"prev\"")
        let prev = index..<(index + 64)
        guard isLowercaseHex(UnsafeRawBufferPointer(rebasing: bytes[prev])) else { throw malformed("prev must be 64 lowercase hex digits") }
        index += 64
        try expect(suffix, "end of line")
        return Layout(seq: seq, ts: ts, runID: runID, type: type, data: dataStart..<dataEnd, prev: prev)
    }

    /// Where the run id of a line lies if the line has the canonical envelope, found from its
    /// fixed shape without checking the rest: the same bytes give the same answer, but only
    /// ``parse(_:)`` says whether the line is valid. `nil` when the line is too short to tell.
    static func runIDField(of bytes: UnsafeRawBufferPointer) -> Range<Int>? {
        var index = seqPrefix.utf8CodeUnitCount
        while index < bytes.count, index < 28, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") { index += 1 }
        let start = index + tsPrefix.utf8CodeUnitCount + timestampLength + runPrefix.utf8CodeUnitCount
        guard start < bytes.count,
              let quote = memchr(bytes.baseAddress! + start, Int32(UInt8(ascii: "\"")), min(bytes.count, start + 65) - start)
        else { return nil }
        let end = bytes.baseAddress!.distance(to: UnsafeRawPointer(quote))
        return end > start ? start..<end : nil
    }

    /// Whether every byte of `bytes` is `0`–`9` or `a`–`f`: eight bytes at a time (verify asks it
    /// of every line's `prev`), the rest one by one.
    static func isLowercaseHex(_ bytes: UnsafeRawBufferPointer) -> Bool {
        // For bytes below 0x80, adding 0x80 − c sets a byte's high bit exactly when it is ≥ c, and
        // no sum carries into the next byte.
        let high: UInt64 = 0x8080_8080_8080_8080
        func atLeast(_ c: UInt8, _ word: UInt64) -> UInt64 { (word &+ UInt64(0x80 - c) &* 0x0101_0101_0101_0101) & high }
        var offset = 0
        while offset + 8 <= bytes.count {
            let word = bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            let digit = atLeast(0x30, word) & ~atLeast(0x3A, word)
            let letter = atLeast(0x61, word) & ~atLeast(0x67, word)
            guard word & high == 0, digit | letter == high else { return false }
            offset += 8
        }
        while offset < bytes.count {
            let byte = bytes[offset]
            guard (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f")) else { return false }
            offset += 1
        }
        return true
    }

    private static func append(_ literal: StaticString, to line: inout [UInt8]) {
        line.append(contentsOf: UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    /// Whether `bytes` hold `literal` at `offset` (the caller checked there is room).
    private static func matches(_ literal: StaticString, in bytes: UnsafeRawBufferPointer, at offset: Int) -> Bool {
        let start = literal.utf8Start
        for index in 0..<literal.utf8CodeUnitCount where bytes[offset + index] != start[index] { return false }
        return true
    }

    /// The `prev` hex digits of a line, found from its fixed-length tail; `nil` if the line is too short.
    static func prevField(of bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        guard bytes.count > prevTailLength else { return nil }
        let start = bytes.count - 2 - 64
        return UnsafeRawBufferPointer(rebasing: bytes[start..<(start + 64)])
    }

    /// The `seq` written at the start of a line; `nil` if it is not there.
    static func seqField(of bytes: UnsafeRawBufferPointer) -> UInt64? {
        guard bytes.count > seqPrefix.utf8CodeUnitCount, matches(seqPrefix, in: bytes, at: 0) else { return nil }
        var index = seqPrefix.utf8CodeUnitCount
        var seq: UInt64 = 0
        while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9"), index < 28 {
            seq = seq &* 10 &+ UInt64(bytes[index] - UInt8(ascii: "0"))
            index += 1
        }
        guard index < bytes.count, bytes[index] == UInt8(ascii: ",") else { return nil }
        return seq
    }

    static func appendDecimal(_ value: UInt64, to line: inout [UInt8]) {
        if value == 0 {
            line.append(UInt8(ascii: "0"))
            return
        }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { buffer in
            while rest > 0 {
                buffer[count] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
                count += 1
            }
            for i in stride(from: count - 1, through: 0, by: -1) {
                line.append(buffer[i])
            }
        }
    }

    private static func malformed(_ why: String) -> JournalError {
        JournalError(.invalidEntry, "malformed journal line: \(why)")
    }
}
