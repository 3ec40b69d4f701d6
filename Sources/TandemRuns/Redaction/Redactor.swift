import Foundation
public import TandemDomain

/// Replaces secrets and personal data with placeholders before anything is journaled.
///
/// Policy `default-v1`: e-mail addresses → `[REDACTED_EMAIL]`, US social security numbers →
/// `[REDACTED_SSN]`, phone numbers (9–15 digits with optional +, spaces, dots, dashes, parentheses;
/// ISO dates excluded) → `[REDACTED_PHONE]`, API keys and bearer tokens (`Bearer …`, `sk-…`, `AIza…`, `ghp_…`,
/// `xox…-`, `AKIA…`, and `key=`/`token=`/`secret=` assignments) → `[REDACTED_KEY]`.
public struct Redactor: Sendable {
    /// The policy name recorded in `run_started` (`off` when disabled).
    public let policy: String
    private let rules: [(NSRegularExpression, String)]
    private let phoneCandidates: NSRegularExpression?

    /// A redactor applying policy `default-v1`, or nothing when `enabled` is false.
    public init(enabled: Bool) {
        policy = enabled ? "default-v1" : "off"
        guard enabled else {
            rules = []
            phoneCandidates = nil
            return
        }
        phoneCandidates = try? NSRegularExpression(pattern: #"(?<![\w+])\+?\(?\d[\d\s().-]{7,22}\d(?![\w])"#)
        let patterns: [(String, String)] = [
            (#"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}"#, "[REDACTED_KEY]"),
            (#"\b(?:sk|pk|rk)-[A-Za-z0-9_-]{16,}\b"#, "[REDACTED_KEY]"),
            (#"\bAIza[0-9A-Za-z_-]{30,}\b"#, "[REDACTED_KEY]"),
            (#"\b(?:ghp|gho|ghs|ghu|github_pat)_[A-Za-z0-9_]{20,}\b"#, "[REDACTED_KEY]"),
            (#"\bxox[abposr]-[A-Za-z0-9-]{10,}\b"#, "[REDACTED_KEY]"),
            (#"\bAKIA[0-9A-Z]{16}\b"#, "[REDACTED_KEY]"),
            (#"(?i)\b(api[_-]?key|token|secret|password)\s*[:=]\s*["']?[^\s"',;]{6,}"#, "$1=[REDACTED_KEY]"),
            (#"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"#, "[REDACTED_EMAIL]"),
            (#"\b\d{3}-\d{2}-\d{4}\b"#, "[REDACTED_SSN]"),
        ]
        rules = patterns.compactMap { pattern, template in
            (try? NSRegularExpression(pattern: pattern)).map { ($0, template) }
        }
    }

    /// `text` with every match of the policy replaced.
    public func redact(_ text: String) -> String {
        guard !rules.isEmpty, !text.isEmpty else { return text }
        var result = text
        for (expression, template) in rules {
            let range = NSRange(result.startIndex..., in: result)
            result = expression.stringByReplacingMatches(in: result, range: range, withTemplate: template)
        }
        return redactPhones(result)
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

    /// `value` with every string in it redacted (object keys are left as they are).
    public func redact(_ value: JSONValue?) -> JSONValue? {
        value?.mapStrings(redact)
    }
}
