import Synchronization
import TandemDomain

/// Counts missing or wrong API keys per client address (`TANDEM_AUTH_FAILURES_PER_MINUTE`, SPEC
/// §11 "Keys"): a client with more than `limit` failures in a minute gets 429 for all of its
/// requests until that minute has passed; other clients are not affected.
///
/// Windows are fixed: a client's minute starts at its first failure. Timed by the injected
/// monotonic clock. A client with no failure costs one relaxed atomic load per request: the table
/// is only looked at while it holds someone. The table is bounded: when `capacity` clients are
/// tracked, windows that are over are dropped, and if none is, a new failing client is not
/// tracked (it then gets 401s, never a wrong 429 for another client). A full table is swept at most
/// once per window that can end: clients beyond it cost a comparison each, not a walk of the table.
final class AuthFailureThrottle: Sendable {
    private struct Window {
        var started: Duration
        var failures: Int
    }

    private static let window = Duration.seconds(60)

    private let limit: Int
    private let capacity: Int
    private let clock: any MonotonicClock
    private struct Table {
        var windows: [String: Window] = [:]
        /// When a full table is worth sweeping again: the earliest end of the windows it kept.
        var nextSweep = Duration.zero
    }

    private let table = Mutex(Table())
    /// How many clients the table holds (read without the lock on every request).
    private let tracked = Atomic<Int>(0)

    /// - Parameter limit: failures allowed per client and minute; 0 turns the throttle off.
    init(limit: Int, clock: any MonotonicClock, capacity: Int = 100_000) {
        self.limit = limit
        self.capacity = max(1, capacity)
        self.clock = clock
    }

    /// The seconds until `client` may try again, or `nil` when it is not throttled.
    func retryAfter(_ client: String) -> Int? {
        guard limit > 0, tracked.load(ordering: .relaxed) > 0 else { return nil }
        let now = clock.elapsed
        return table.withLock { table in
            guard let window = table.windows[client] else { return nil }
            if now - window.started >= Self.window {
                table.windows[client] = nil
                tracked.store(table.windows.count, ordering: .relaxed)
                return nil
            }
            return window.failures > limit ? Self.seconds(until: window.started + Self.window, now: now) : nil
        }
    }

    /// Counts a failure of `client`; returns the seconds to wait when it is now over the limit.
    func recordFailure(_ client: String) -> Int? {
        guard limit > 0 else { return nil }
        let now = clock.elapsed
        return table.withLock { table in
            var window = table.windows[client] ?? Window(started: now, failures: 0)
            if now - window.started >= Self.window { window = Window(started: now, failures: 0) }
            window.failures += 1
            if table.windows[client] == nil, table.windows.count >= capacity {
                guard now >= table.nextSweep else { return nil }
                table.windows = table.windows.filter { now - $0.value.started < Self.window }
                table.nextSweep = (table.windows.values.map(\.started).min() ?? now) + Self.window
                guard table.windows.count < capacity else { return nil }
            }
            table.windows[client] = window
            tracked.store(table.windows.count, ordering: .relaxed)
            return window.failures > limit ? Self.seconds(until: window.started + Self.window, now: now) : nil
        }
    }

    private static func seconds(until end: Duration, now: Duration) -> Int {
        max(1, Int(((end - now).milliseconds / 1000).rounded(.up)))
    }
}
