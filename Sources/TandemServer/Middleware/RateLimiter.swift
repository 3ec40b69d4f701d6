import Synchronization
import TandemDomain

/// A token bucket per client (`RATE_LIMIT_PER_MINUTE`): each client may start `perMinute` runs a
/// minute, with bursts up to the same number. Timed by the injected monotonic clock.
final class RateLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: Duration
    }

    private let perMinute: Int
    private let clock: any MonotonicClock
    private let buckets = Mutex([String: Bucket]())

    init(perMinute: Int, clock: any MonotonicClock) {
        self.perMinute = perMinute
        self.clock = clock
    }

    /// Takes a token for `client`: `nil` when allowed, else the seconds until one is available.
    func acquire(_ client: String) -> Int? {
        guard perMinute > 0 else { return nil }
        let now = clock.now
        let rate = Double(perMinute) / 60
        return buckets.withLock { buckets in
            if buckets.count > 100_000 {
                // Forget full buckets of idle clients so the table stays bounded.
                buckets = buckets.filter { ($0.value.tokens + (now - $0.value.updated).milliseconds / 1000 * rate) < Double(perMinute) }
            }
            var bucket = buckets[client] ?? Bucket(tokens: Double(perMinute), updated: now)
            bucket.tokens = min(Double(perMinute), bucket.tokens + (now - bucket.updated).milliseconds / 1000 * rate)
            bucket.updated = now
            defer { buckets[client] = bucket }
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                return nil
            }
            return max(1, Int(((1 - bucket.tokens) / rate).rounded(.up)))
        }
    }
}
