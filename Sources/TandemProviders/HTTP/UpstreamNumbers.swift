import Foundation
import TandemDomain

/// Numbers an upstream sends, checked where they enter tandem: whatever they are, they end up in
/// a sane range, so nothing downstream (the journal, the metrics fold, a sleep) can trap on them.
enum UpstreamNumbers {
    /// A token count from a JSON value: clamped to `0...TokenUsage.maximumCount`; `nil` when the
    /// value is not a number (the caller keeps what it had).
    static func tokenCount(_ value: Any?) -> Int? {
        if let exact = value as? Int { return min(max(0, exact), TokenUsage.maximumCount) }
        guard let number = (value as? NSNumber)?.doubleValue, !number.isNaN else { return nil }
        return number <= 0 ? 0 : number >= Double(TokenUsage.maximumCount) ? TokenUsage.maximumCount : Int(number)
    }

    /// The most a `Retry-After` may ask tandem to wait; any deadline is shorter.
    static let longestRetryAfter: Double = 3_600

    /// A `Retry-After` in seconds (the delta form), clamped to `0...longestRetryAfter`; `nil` when
    /// the header is absent or not a number.
    static func retryAfter(_ header: String?) -> Duration? {
        guard let header, let seconds = Double(header.trimmingCharacters(in: .whitespaces)), !seconds.isNaN else { return nil }
        return .fractionalSeconds(min(max(0, seconds), longestRetryAfter))
    }
}
