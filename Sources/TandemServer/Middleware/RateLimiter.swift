import Synchronization
import TandemDomain

/// A token bucket per client (`RATE_LIMIT_PER_MINUTE`): each client may start `perMinute` runs a
/// minute, with bursts up to the same number. Timed by the injected monotonic clock.
///
/// The table is bounded without a sweep: buckets live in two generations of at most `capacity`
/// clients each. A client's bucket moves to the current generation when used; when the current
/// one is full it becomes the previous one and the old previous one is dropped — so the least
/// recently used clients are forgotten first, in O(1) per request, and memory stays under
/// 2 × `capacity` buckets however many clients (or spoofed keys) appear. A forgotten client starts
/// again with a full bucket, which it would have regained by idling anyway.
final class RateLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: Duration
    }

    private struct Generations {
        var current: [String: Bucket] = [:]
        var previous: [String: Bucket] = [:]
    }

    private let perMinute: Int
    private let capacity: Int
    private let clock: any MonotonicClock
    private let buckets = Mutex(Generations())

    init(perMinute: Int, clock: any MonotonicClock, capacity: Int = 100_000) {
        self.perMinute = perMinute
        self.capacity = max(1, capacity)
        self.clock = clock
    }

    /// Clients whose buckets are remembered (at most twice the capacity).
    var trackedClients: Int { buckets.withLock { $0.current.count + $0.previous.count } }

    /// Takes a token for `client`: `nil` when allowed, else the seconds until one is available.
    func acquire(_ client: String) -> Int? {
        guard perMinute > 0 else { return nil }
        let now = clock.elapsed
        let rate = Double(perMinute) / 60
        return buckets.withLock { generations in
            var bucket = generations.current.removeValue(forKey: client)
                ?? generations.previous.removeValue(forKey: client)
                ?? Bucket(tokens: Double(perMinute), updated: now)
            bucket.tokens = min(Double(perMinute), bucket.tokens + (now - bucket.updated).milliseconds / 1000 * rate)
            bucket.updated = now
            let retryAfter: Int?
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                retryAfter = nil
            } else {
                retryAfter = max(1, Int(((1 - bucket.tokens) / rate).rounded(.up)))
            }
            if generations.current.count >= capacity {
                generations.previous = generations.current
                generations.current = [:]
            }
            generations.current[client] = bucket
            return retryAfter
        }
    }
}
