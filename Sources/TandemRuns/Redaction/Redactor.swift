#if canImport(Glibc)
import Glibc
#endif
import Foundation
public import TandemDomain

/// Replaces secrets and personal data with placeholders before anything is journaled.
///
/// Policy `default-v2`: e-mail addresses → `[REDACTED_EMAIL]`, US social security numbers →
/// `[REDACTED_SSN]`, phone numbers (9–15 digits with optional +, spaces, dots, dashes, parentheses;
/// ISO dates excluded) → `[REDACTED_PHONE]`, API keys and bearer tokens (`Bearer …`, `sk-…`, `AIza…`, `ghp_…`,
/// `xox…-`, `AKIA…`, and `key=`/`token=`/`secret=` assignments) → `[REDACTED_KEY]`; and, new in
/// v2, every value under a sensitive key (``SensitiveKey``) at any depth of a JSON value, and the
/// value of a quoted `"key": value` pair in text whose key is sensitive. Runs journaled under
/// `default-v1` keep their policy name in `run_started`: a policy applies to the runs it recorded.
public struct Redactor: Sendable {
    /// The policy name recorded in `run_started` (`off` when disabled).
    public let policy: String
    private let rules: [(NSRegularExpression, String, Trigger)]
    private let phoneCandidates: NSRegularExpression?

    /// The name of the policy this version applies.
    public static let currentPolicy = "default-v2"

    /// A redactor applying policy ``currentPolicy``, or nothing when `enabled` is false.
    public init(enabled: Bool) {
        policy = enabled ? Self.currentPolicy : "off"
        guard enabled else {
            rules = []
            phoneCandidates = nil
            return
        }
        phoneCandidates = try? NSRegularExpression(pattern: #"(?<![\w+])\+?\(?\d[\d\s().-]{7,22}\d(?![\w])"#)
        let patterns: [(String, String, Trigger)] = [
            // A JSON-quoted pair (`"api_key": "sk-…"`, `'password':'…'`, `"pin_password": 1234`)
            // whose key ends in a sensitive word: the value goes, whatever it looks like.
            (
                #"(?i)(["'])([^"'\s:]{0,64}?"# + SensitiveKey.textPattern + #")\1\s*:\s*(?:"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|[^\s,;}\]]+)"#,
                #"$1$2$1: "[REDACTED_KEY]""#,
                .anyCase(SensitiveKey.triggerWords, alongWith: [":"])
            ),
            (#"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}"#, "[REDACTED_KEY]", .anyCase(["bearer"], alongWith: [])),
            (#"\b(?:sk|pk|rk)-[A-Za-z0-9_-]{16,}\b"#, "[REDACTED_KEY]", .substrings(["sk-", "pk-", "rk-"])),
            (#"\bAIza[0-9A-Za-z_-]{30,}\b"#, "[REDACTED_KEY]", .substrings(["AIza"])),
            (#"\b(?:ghp|gho|ghs|ghu|github_pat)_[A-Za-z0-9_]{20,}\b"#, "[REDACTED_KEY]", .substrings(["ghp_", "gho_", "ghs_", "ghu_", "github_pat_"])),
            (#"\bxox[abposr]-[A-Za-z0-9-]{10,}\b"#, "[REDACTED_KEY]", .substrings(["xox"])),
            (#"\bAKIA[0-9A-Z]{16}\b"#, "[REDACTED_KEY]", .substrings(["AKIA"])),
            (#"(?i)\b(api[_-]?key|token|secret|password)\s*[:=]\s*["']?[^\s"',;]{6,}"#, "$1=[REDACTED_KEY]", .anyCase(["key", "token", "secret", "password"], alongWith: [":", "="])),
            (#"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"#, "[REDACTED_EMAIL]", .substrings(["@"])),
            (#"\b\d{3}-\d{2}-\d{4}\b"#, "[REDACTED_SSN]", .digits(9)),
        ]
        rules = patterns.compactMap { pattern, template, trigger in
            (try? NSRegularExpression(pattern: pattern)).map { ($0, template, trigger) }
        }
    }

    /// `text` with every match of the policy replaced.
    public func redact(_ text: String) -> String {
        guard !rules.isEmpty, !text.isEmpty else { return text }
        var result = text
        let digits = text.utf8.reduce(0) { $0 + ($1 >= 48 && $1 <= 57 ? 1 : 0) }
        for (expression, template, trigger) in rules where trigger.mayMatch(result, digits: digits) {
            let range = NSRange(result.startIndex..., in: result)
            result = expression.stringByReplacingMatches(in: result, range: range, withTemplate: template)
        }
        return digits >= 9 ? redactPhones(result) : result
    }

    /// Replaces digit runs that look like phone numbers: 9 to 15 digits, not an ISO date or time.
    private func redactPhones(_ text: String) -> String {
        guard let phoneCandidates else { return text }
        let matches = phoneCandidates.matches(in: text, range: NSRange(text.startIndex..., in: text))
        guard !matches.isEmpty else { return text }
        var result = text
        for match in matches.reversed() {
            guard let range = Range(match.range, in: result) else { continue }
            let candidate = result[range]
            let digits = candidate.filter(\.isNumber).count
            let looksLikeDate = candidate.range(of: #"^\d{4}-\d{2}-\d{2}"#, options: .regularExpression) != nil
            if (9...15).contains(digits), !looksLikeDate {
                result.replaceSubrange(range, with: "[REDACTED_PHONE]")
            }
        }
        return result
    }

    /// A cheap test that lets most text skip a rule's regular expression (they are the costly part).
    private enum Trigger {
        /// For a case-insensitive rule: one of `words` (lowercase ASCII bytes; `key` covers
        /// `api_key`, `apikey`, `api-key`) in any case, and one of `alongWith` when that is not empty.
        case wordsInAnyCase([[UInt8]], alongWith: [String])
        case substrings([String])
        case digits(Int)

        /// A ``wordsInAnyCase(_:alongWith:)`` trigger, from the words as text.
        static func anyCase(_ words: [String], alongWith marks: [String]) -> Trigger {
            .wordsInAnyCase(words.map { Array($0.utf8) }, alongWith: marks)
        }

        /// Byte searches over the UTF-8 (answers are kilobytes long and every one is redacted).
        func mayMatch(_ text: String, digits: Int) -> Bool {
            switch self {
            case .wordsInAnyCase(let words, let marks):
                guard marks.isEmpty || marks.contains(where: { Self.contains(text, $0) }) else { return false }
                // Unicode case folding lets non-ASCII letters match too (the Kelvin sign is a `k`):
                // only all-ASCII text can be ruled out by an ASCII search.
                guard text.utf8.allSatisfy({ $0 < 0x80 }) else { return true }
                return words.contains { Self.containsIgnoringASCIICase(text, $0) }
            case .substrings(let needles):
                return needles.contains { Self.contains(text, $0) }
            case .digits(let minimum):
                return digits >= minimum
            }
        }

        /// Whether `text` holds `word` (lowercase ASCII letters) in any ASCII case.
        private static func containsIgnoringASCIICase(_ text: String, _ word: [UInt8]) -> Bool {
            var text = text
            return text.withUTF8 { bytes in
                guard bytes.count >= word.count else { return false }
                // Setting bit 5 lowercases an ASCII letter and maps nothing else onto one.
                for start in 0...(bytes.count - word.count) where bytes[start] | 0x20 == word[0] {
                    var offset = 1
                    while offset < word.count, bytes[start + offset] | 0x20 == word[offset] { offset += 1 }
                    if offset == word.count { return true }
                }
                return false
            }
        }

        private static func contains(_ text: String, _ needle: String) -> Bool {
            var text = text
            var needle = needle
            return text.withUTF8 { haystack in
                needle.withUTF8 { needle in
                    guard let base = haystack.baseAddress, let pattern = needle.baseAddress, needle.count <= haystack.count else { return false }
                    // Jump between occurrences of the first byte with memchr, compare the rest.
                    var offset = 0
                    let last = haystack.count - needle.count
                    while offset <= last, let hit = memchr(base + offset, Int32(pattern[0]), last - offset + 1) {
                        let position = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                        if memcmp(base + position, pattern, needle.count) == 0 { return true }
                        offset = position + 1
                    }
                    return false
                }
            }
        }
    }

    /// `value` with every string in it redacted, and every value under a sensitive key (at any
    /// depth) replaced whole; object keys are left as they are.
    public func redact(_ value: JSONValue?) -> JSONValue? {
        guard let value, !rules.isEmpty else { return value }
        return redactMembers(value)
    }

    private func redactMembers(_ value: JSONValue) -> JSONValue {
        switch value {
        case .string(let text):
            return .string(redact(text))
        case .array(let values):
            return .array(values.map(redactMembers))
        case .object(let members):
            var result: [String: JSONValue] = [:]
            result.reserveCapacity(members.count)
            for (key, member) in members {
                result[key] = SensitiveKey(key).map { .string($0.placeholder) } ?? redactMembers(member)
            }
            return .object(result)
        case .null, .bool, .int, .double:
            return value
        }
    }
}
