/// The text rules of policy `default-v3`, each a forward scanner with a bounded look-ahead.
///
/// In priority order at a position (the first that does not decline decides):
/// 1. a JSON-quoted pair whose key is sensitive (``SensitiveKey``): `"api_key": "…"` →
///    `"api_key": "[REDACTED_KEY]"` (string values of any length, with escapes; bare values too);
/// 2. URL credentials on any host: `postgres://admin:pw@…` → `postgres://admin:[REDACTED_KEY]@…`;
/// 3. key shapes: `sk-`/`pk-`/`rk-` + 16, `AIza` + 30, `ghp_`/`gho_`/`ghs_`/`ghu_`/`github_pat_`
///    + 20, `xox?-` + 10, `AKIA` + 16 characters, and the rest of the key;
/// 4. `Bearer` + a token of 8 or more characters;
/// 5. an env/YAML/INI assignment whose name is sensitive (`DB_PASSWORD=…`, `smtp_token: …`,
///    `Authorization: Basic …`, `Cookie: …`): the value, of any length, up to its closing quote
///    when quoted, else to the end of the line for a header name or a name at the start of a
///    line, else to the next whitespace, quote, `&`, `<` or `>`;
/// 6. e-mail addresses (local part ≤ 64 characters as RFC 5321, a domain with a dot and a
///    top-level name of two letters or more, found within 255 characters);
/// 7. US social security numbers `ddd-dd-dddd`;
/// 8. payment card numbers: 13–19 digits, single spaces or dashes between groups, Luhn-valid;
/// 9. phone numbers: 9–15 digits in at most 24 characters of digits, spaces, dots, dashes and
///    parentheses, an optional leading `+`; ISO dates are not phone numbers, and a longer run of
///    digits is passed on whole (no phone number is cut out of it).
enum RedactionRules {
    /// The farthest any rule looks past its start (the URL rule: scheme 32, user 128, password 256).
    static let longestLookahead = 32 + 3 + 128 + 1 + 256 + 1

    /// Whether any rule can start at `byte` (the others are copied through at once).
    static func mayStart(_ byte: UInt8) -> Bool {
        ByteClass.ruleStart.contains(byte)
    }

    /// The decision at `index`: a match, `nil` (no rule matches here).
    /// - Throws: ``NeedMore`` when the first rule that could still match needs input that has not arrived.
    static func match(_ window: Window, at index: Int, context: ScanContext, memo: inout ScanMemo) throws(NeedMore) -> RuleMatch? {
        if let match = try quotedPair(window, index) { return match }
        let wordStart = !(context.previous.map(ByteClass.word.contains) ?? false)
        if wordStart {
            if let match = try urlCredentials(window, index) { return match }
            if let match = try keyShape(window, index) { return match }
            if let match = try bearer(window, index) { return match }
        }
        if !(context.previous.map(ByteClass.name.contains) ?? false), let match = try assignment(window, index, context) {
            return match
        }
        if let match = try email(window, index, &memo) { return match }
        if wordStart {
            if let match = try ssn(window, index) { return match }
            if let match = try card(window, index) { return match }
            if context.previous != UInt8(ascii: "+"), let match = try phone(window, index) { return match }
        }
        return nil
    }

    // MARK: Rules

    /// `"key": value` or `'key': value` with a sensitive key (≤ 128 bytes), up to 16 blanks on each side of `:`.
    private static func quotedPair(_ window: Window, _ start: Int) throws(NeedMore) -> RuleMatch? {
        let quote = window.bytes[start]
        guard quote == UInt8(ascii: "\"") || quote == UInt8(ascii: "'") else { return nil }
        var index = start + 1
        while true {
            guard let byte = try window.peek(index), byte != UInt8(ascii: "\n"), byte != UInt8(ascii: "\\"), index - start <= 129 else { return nil }
            if byte == quote { break }
            index += 1
        }
        let keyEnd = index
        guard keyEnd > start + 1 else { return nil }
        index = try skipBlanks(window, from: keyEnd + 1, including: .whitespace)
        guard try window.peek(index) == UInt8(ascii: ":") else { return nil }
        index = try skipBlanks(window, from: index + 1, including: .whitespace)
        guard let first = try window.peek(index) else { return nil }
        let keyBytes = UnsafeBufferPointer(rebasing: window.bytes[(start + 1)..<keyEnd])
        let asciiKey = keyBytes.allSatisfy { $0 < 0x80 }
        guard !asciiKey || SensitiveKey.mayBeSensitive(keyBytes), let key = SensitiveKey(String(decoding: keyBytes, as: UTF8.self)) else {
            return nil
        }
        var replacement = Array(window.bytes[start...keyEnd]) + Array(": ".utf8)
        if first == UInt8(ascii: "\"") || first == UInt8(ascii: "'") {
            replacement += [first] + Array(key.placeholder.utf8)
            return RuleMatch(length: index + 1 - start, replacement: replacement, then: .quoted(first, escapes: true, escaping: false))
        }
        replacement += Array("\"\(key.placeholder)\"".utf8)
        return RuleMatch(length: index - start, replacement: replacement, then: .run(.bareJSONValue))
    }

    /// `scheme://user:password@`: the password goes.
    private static func urlCredentials(_ window: Window, _ start: Int) throws(NeedMore) -> RuleMatch? {
        guard ByteClass.letter.contains(window.bytes[start]) else { return nil }
        var index = try scan(window, from: start, while: .scheme, limit: 32)
        guard index > start, try window.peek(index) == UInt8(ascii: ":"), try window.peek(index + 1) == UInt8(ascii: "/"),
              try window.peek(index + 2) == UInt8(ascii: "/")
        else { return nil }
        let userStart = index + 3
        index = try scan(window, from: userStart, while: .userInfo, limit: 128)
        guard try window.peek(index) == UInt8(ascii: ":") else { return nil }
        let passwordStart = index + 1
        index = try scan(window, from: passwordStart, while: .password, limit: 256)
        guard index > passwordStart, try window.peek(index) == UInt8(ascii: "@") else { return nil }
        let replacement = Array(window.bytes[start..<passwordStart]) + Array("[REDACTED_KEY]@".utf8)
        return RuleMatch(length: index + 1 - start, replacement: replacement, then: nil)
    }

    private static let keyShapes: [(prefix: [UInt8], tail: ByteClass, minimum: Int)] = [
        (Array("sk-".utf8), .keyTail, 16), (Array("pk-".utf8), .keyTail, 16), (Array("rk-".utf8), .keyTail, 16),
        (Array("AIza".utf8), .keyTail, 30),
        (Array("ghp_".utf8), .word, 20), (Array("gho_".utf8), .word, 20), (Array("ghs_".utf8), .word, 20),
        (Array("ghu_".utf8), .word, 20), (Array("github_pat_".utf8), .word, 20),
        (Array("xoxa-".utf8), .hostLabel, 10), (Array("xoxb-".utf8), .hostLabel, 10), (Array("xoxp-".utf8), .hostLabel, 10),
        (Array("xoxo-".utf8), .hostLabel, 10), (Array("xoxs-".utf8), .hostLabel, 10), (Array("xoxr-".utf8), .hostLabel, 10),
        (Array("AKIA".utf8), .upperAlphanumeric, 16),
    ]

    /// A provider key: its prefix, at least `minimum` characters of its alphabet, and the rest of them.
    private static func keyShape(_ window: Window, _ start: Int) throws(NeedMore) -> RuleMatch? {
        let first = window.bytes[start]
        shapes: for shape in keyShapes where shape.prefix[0] == first {
            for offset in 1..<shape.prefix.count {
                guard try window.peek(start + offset) == shape.prefix[offset] else { continue shapes }
            }
            let tailStart = start + shape.prefix.count
            let tailEnd = try scan(window, from: tailStart, while: shape.tail, limit: shape.minimum)
            guard tailEnd - tailStart == shape.minimum else { continue }
            return RuleMatch(length: tailEnd - start, replacement: Array("[REDACTED_KEY]".utf8), then: .run(shape.tail))
        }
        return nil
    }

    /// `Bearer <token>` in any case, the token 8 characters or more.
    private static func bearer(_ window: Window, _ start: Int) throws(NeedMore) -> RuleMatch? {
        guard window.bytes[start] | 0x20 == UInt8(ascii: "b") else { return nil }
        for (offset, letter) in "bearer".utf8.enumerated().dropFirst() {
            guard let byte = try window.peek(start + offset), byte | 0x20 == letter else { return nil }
        }
        let tokenStart = try skipBlanks(window, from: start + 6, including: .blank)
        guard tokenStart > start + 6 else { return nil }
        let tokenEnd = try scan(window, from: tokenStart, while: .bearerToken, limit: 8)
        guard tokenEnd - tokenStart == 8 else { return nil }
        return RuleMatch(length: tokenEnd - start, replacement: Array("[REDACTED_KEY]".utf8), then: .run(.bearerToken))
    }

    /// Header names whose value runs to the end of the line wherever they appear.
    private static let headerNames: Set<String> = ["authorization", "proxy-authorization", "cookie", "set-cookie"]

    /// `NAME=value`, `name: value` (name ≤ 128 bytes of letters, digits, `_ . -`; up to 16 blanks
    /// around the separator) whose name is sensitive: the value goes, whatever its length.
    private static func assignment(_ window: Window, _ start: Int, _ context: ScanContext) throws(NeedMore) -> RuleMatch? {
        guard ByteClass.name.contains(window.bytes[start]) else { return nil }
        let nameEnd = try scan(window, from: start, while: .name, limit: 129)
        guard nameEnd - start <= 128 else { return nil }
        let separator = try skipBlanks(window, from: nameEnd, including: .blank)
        guard let mark = try window.peek(separator), mark == UInt8(ascii: "=") || mark == UInt8(ascii: ":") else { return nil }
        let valueStart = try skipBlanks(window, from: separator + 1, including: .blank)
        guard let first = try window.peek(valueStart), first != UInt8(ascii: "\n"), first != UInt8(ascii: "\r") else { return nil }
        let nameBytes = UnsafeBufferPointer(rebasing: window.bytes[start..<nameEnd])
        guard SensitiveKey.mayBeSensitive(nameBytes) else { return nil }
        let name = String(decoding: nameBytes, as: UTF8.self)
        guard let key = SensitiveKey(name) else { return nil }
        var replacement = Array(window.bytes[start..<valueStart])
        if first == UInt8(ascii: "\"") || first == UInt8(ascii: "'") {
            replacement += [first] + Array(key.placeholder.utf8)
            return RuleMatch(length: valueStart + 1 - start, replacement: replacement, then: .quoted(first, escapes: first == UInt8(ascii: "\""), escaping: false))
        }
        replacement += Array(key.placeholder.utf8)
        let wholeLine = context.atLineStart || headerNames.contains(name.lowercased())
        return RuleMatch(length: valueStart - start, replacement: replacement, then: wholeLine ? .line : .word)
    }

    /// `local@domain.tld`: up to 64 local-part characters before the `@` (the memo keeps how far
    /// they are known to reach, so a long run is read once), then a domain within 255 characters.
    private static func email(_ window: Window, _ start: Int, _ memo: inout ScanMemo) throws(NeedMore) -> RuleMatch? {
        guard ByteClass.localPart.contains(window.bytes[start]) else { return nil }
        var index = max(start, memo.localPartUntil)
        var stop: UInt8?
        while index <= start + 64 {
            let byte: UInt8?
            do {
                byte = try window.peek(index)
            } catch {
                memo.localPartUntil = index
                throw error
            }
            guard let byte, ByteClass.localPart.contains(byte) else {
                stop = byte
                break
            }
            index += 1
        }
        memo.localPartUntil = index
        guard index <= start + 64, stop == UInt8(ascii: "@") else { return nil }
        let matchEnd: Int?
        if let checked = memo.checkedDomain, checked.at == index {
            matchEnd = checked.matchEnd
        } else {
            matchEnd = try domainMatchEnd(window, after: index)
            memo.checkedDomain = (index, matchEnd)
        }
        return matchEnd.map { RuleMatch(length: $0 - start, replacement: Array("[REDACTED_EMAIL]".utf8), then: .domain) }
    }

    /// Where an e-mail whose `@` is at `at` ends (after the first `.` + two letters of its
    /// domain, within 255 characters), or `nil` when its domain has none.
    private static func domainMatchEnd(_ window: Window, after at: Int) throws(NeedMore) -> Int? {
        let domainStart = at + 1
        var position = domainStart
        while position - domainStart < 255 {
            guard let byte = try window.peek(position), ByteClass.domain.contains(byte) else { return nil }
            if byte == UInt8(ascii: "."), position > domainStart,
               let first = try window.peek(position + 1), ByteClass.letter.contains(first),
               let second = try window.peek(position + 2), ByteClass.letter.contains(second) {
                return position + 3
            }
            position += 1
        }
        return nil
    }

    /// `ddd-dd-dddd`, not followed by a word character.
    private static func ssn(_ window: Window, _ start: Int) throws(NeedMore) -> RuleMatch? {
        guard ByteClass.digit.contains(window.bytes[start]) else { return nil }
        for (offset, shape) in "ddd-dd-dddd".utf8.enumerated() {
            guard let byte = try window.peek(start + offset) else { return nil }
            let fits = shape == UInt8(ascii: "d") ? ByteClass.digit.contains(byte) : byte == UInt8(ascii: "-")
            guard fits else { return nil }
        }
        if let next = try window.peek(start + 11), ByteClass.word.contains(next) { return nil }
        return RuleMatch(length: 11, replacement: Array("[REDACTED_SSN]".utf8), then: nil)
    }

    /// 13–19 digits (single spaces or dashes between groups), not followed by a word character, Luhn-valid.
    private static func card(_ window: Window, _ start: Int) throws(NeedMore) -> RuleMatch? {
        guard ByteClass.digit.contains(window.bytes[start]) else { return nil }
        var digits: [UInt8] = []
        var index = start
        var end = start
        while let byte = try window.peek(index) {
            if ByteClass.digit.contains(byte) {
                digits.append(byte - UInt8(ascii: "0"))
                guard digits.count <= 19 else { return nil }
                index += 1
                end = index
            } else if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "-"), index == end,
                      let next = try window.peek(index + 1), ByteClass.digit.contains(next) {
                index += 1
            } else {
                break
            }
        }
        if let next = try window.peek(end), ByteClass.word.contains(next) { return nil }
        guard digits.count >= 13, luhnValid(digits) else { return nil }
        return RuleMatch(length: end - start, replacement: Array("[REDACTED_CARD]".utf8), then: nil)
    }

    private static func luhnValid(_ digits: [UInt8]) -> Bool {
        var sum = 0
        for (position, digit) in digits.reversed().enumerated() {
            let value = Int(digit) * (position % 2 == 1 ? 2 : 1)
            sum += value > 9 ? value - 9 : value
        }
        return sum % 10 == 0
    }

    /// `+? (? d [digits spaces ( ) . -]{7,22} d`, the longest such ending before a non-word
    /// character; replaced when it holds 9–15 digits and does not begin with an ISO date.
    private static func phone(_ window: Window, _ start: Int) throws(NeedMore) -> RuleMatch? {
        var index = start
        if window.bytes[index] == UInt8(ascii: "+") { index += 1 }
        if try window.peek(index) == UInt8(ascii: "(") { index += 1 }
        guard let first = try window.peek(index), ByteClass.digit.contains(first) else { return nil }
        let middleStart = index + 1
        let runEnd = try scan(window, from: middleStart, while: .phone, limit: 23)
        var end = runEnd
        while end - middleStart >= 8 {
            let last = window.bytes[end - 1]
            let after = end < runEnd ? window.bytes[end] : try window.peek(end)
            if ByteClass.digit.contains(last), !(after.map(ByteClass.word.contains) ?? false) { break }
            end -= 1
        }
        guard end - middleStart >= 8 else { return nil }
        let candidate = UnsafeBufferPointer(rebasing: window.bytes[start..<end])
        let digitCount = candidate.reduce(0) { $0 + (ByteClass.digit.contains($1) ? 1 : 0) }
        guard (9...15).contains(digitCount), !beginsWithISODate(candidate) else {
            // Not a phone number, and no shorter one starts inside it (`1234 5678 9012 3456`
            // is not `1234` and a phone number): passed on unchanged.
            return RuleMatch(length: end - start, replacement: Array(candidate), then: nil)
        }
        return RuleMatch(length: end - start, replacement: Array("[REDACTED_PHONE]".utf8), then: nil)
    }

    private static func beginsWithISODate(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let shape = Array("dddd-dd-dd".utf8)
        guard bytes.count >= shape.count else { return false }
        return zip(bytes, shape).allSatisfy { byte, kind in
            kind == UInt8(ascii: "d") ? ByteClass.digit.contains(byte) : byte == kind
        }
    }

    // MARK: Helpers

    /// The index after up to `limit` bytes of `bytes` from `start`.
    private static func scan(_ window: Window, from start: Int, while bytes: ByteClass, limit: Int) throws(NeedMore) -> Int {
        var index = start
        while index - start < limit, let byte = try window.peek(index), bytes.contains(byte) { index += 1 }
        return index
    }

    /// The index after up to 16 bytes of `blanks` from `start`.
    private static func skipBlanks(_ window: Window, from start: Int, including blanks: ByteClass) throws(NeedMore) -> Int {
        try scan(window, from: start, while: blanks, limit: 16)
    }
}

/// A set of bytes (ASCII, plus optionally every byte ≥ 0x80), tested in constant time.
///
/// The classes are bit masks written out (bit n of `low` is byte n, bit n of `high` is byte
/// 64 + n), so that they are constants of the binary: a class computed at start-up is a lazily
/// initialised global, and the scanner paid a `swift_once` check for each of its ~800 reads per
/// run. `ByteClassTests` checks every mask against the definition in its doc comment.
struct ByteClass: Sendable, Equatable {
    let low: UInt64
    let high: UInt64
    /// Whether every byte ≥ 0x80 belongs.
    let nonASCII: Bool

    @inline(__always)
    func contains(_ byte: UInt8) -> Bool {
        if byte < 64 { return low >> UInt64(byte) & 1 == 1 }
        if byte < 128 { return high >> UInt64(byte - 64) & 1 == 1 }
        return nonASCII
    }

    /// ASCII letters.
    static let letter = ByteClass(low: 0x0000_0000_0000_0000, high: 0x07FF_FFFE_07FF_FFFE, nonASCII: false)
    /// ASCII digits.
    static let digit = ByteClass(low: 0x03FF_0000_0000_0000, high: 0x0000_0000_0000_0000, nonASCII: false)
    /// Letters, digits and `_`.
    static let word = ByteClass(low: 0x03FF_0000_0000_0000, high: 0x07FF_FFFE_87FF_FFFE, nonASCII: false)
    /// Letters, digits and `_.-`.
    static let name = ByteClass(low: 0x03FF_6000_0000_0000, high: 0x07FF_FFFE_87FF_FFFE, nonASCII: false)
    /// Letters, digits and `_-`.
    static let keyTail = ByteClass(low: 0x03FF_2000_0000_0000, high: 0x07FF_FFFE_87FF_FFFE, nonASCII: false)
    /// Letters, digits and `-`.
    static let hostLabel = ByteClass(low: 0x03FF_2000_0000_0000, high: 0x07FF_FFFE_07FF_FFFE, nonASCII: false)
    /// Letters, digits and `.-`.
    static let domain = ByteClass(low: 0x03FF_6000_0000_0000, high: 0x07FF_FFFE_07FF_FFFE, nonASCII: false)
    /// Letters, digits and `._%+-`.
    static let localPart = ByteClass(low: 0x03FF_6820_0000_0000, high: 0x07FF_FFFE_87FF_FFFE, nonASCII: false)
    /// Digits and `A`-`Z`.
    static let upperAlphanumeric = ByteClass(low: 0x03FF_0000_0000_0000, high: 0x0000_0000_07FF_FFFE, nonASCII: false)
    /// Letters, digits and `._~+/=-`.
    static let bearerToken = ByteClass(low: 0x23FF_E800_0000_0000, high: 0x47FF_FFFE_87FF_FFFE, nonASCII: false)
    /// Letters, digits and `+.-`.
    static let scheme = ByteClass(low: 0x03FF_6800_0000_0000, high: 0x07FF_FFFE_07FF_FFFE, nonASCII: false)
    /// Every byte from 0x20 up, non-ASCII included, but space and `:/@?#`.
    static let userInfo = ByteClass(low: 0x7BFF_7FF6_0000_0000, high: 0xFFFF_FFFF_FFFF_FFFE, nonASCII: true)
    /// Every byte from 0x20 up, non-ASCII included, but space and `/@?#`.
    static let password = ByteClass(low: 0x7FFF_7FF6_0000_0000, high: 0xFFFF_FFFF_FFFF_FFFE, nonASCII: true)
    /// Digits, space, tab and `().-`.
    static let phone = ByteClass(low: 0x03FF_6301_0000_0200, high: 0x0000_0000_0000_0000, nonASCII: false)
    /// Space and tab.
    static let blank = ByteClass(low: 0x0000_0001_0000_0200, high: 0x0000_0000_0000_0000, nonASCII: false)
    /// Space, tab, CR and LF.
    static let whitespace = ByteClass(low: 0x0000_0001_0000_2600, high: 0x0000_0000_0000_0000, nonASCII: false)
    /// Every byte, non-ASCII included, but space, tab, CR, LF and `,;}]`.
    static let bareJSONValue = ByteClass(low: 0xF7FF_EFFE_FFFF_D9FF, high: 0xDFFF_FFFF_DFFF_FFFF, nonASCII: true)
    /// Space, tab, CR, LF and `"'&<>`.
    static let valueEnd = ByteClass(low: 0x5000_00C5_0000_2600, high: 0x0000_0000_0000_0000, nonASCII: false)
    /// Letters, digits and `"'+(_.%-`: where some rule may match.
    static let ruleStart = ByteClass(low: 0x03FF_69A4_0000_0000, high: 0x07FF_FFFE_87FF_FFFE, nonASCII: false)
}
