/// The monotonic clock runs are timed by: latencies, deadlines and simulated model delays.
///
/// Time is a `Duration` since an arbitrary origin, so the clock can be type-erased and replaced in
/// tests by a manual clock that only moves when told to.
public protocol MonotonicClock: Sendable {
    /// The time since the clock's origin.
    var now: Duration { get }
    /// Suspends until `now >= deadline`.
    /// - Throws: `CancellationError` when the calling task is cancelled first.
    func sleep(until deadline: Duration) async throws
}

extension MonotonicClock {
    /// Suspends for `duration`.
    public func sleep(for duration: Duration) async throws {
        try await sleep(until: now + duration)
    }
}

/// The process's monotonic clock (`ContinuousClock`).
public struct SystemClock: MonotonicClock {
    private let origin: ContinuousClock.Instant

    public init() {
        origin = ContinuousClock.now
    }

    public var now: Duration { origin.duration(to: ContinuousClock.now) }

    public func sleep(until deadline: Duration) async throws {
        try await ContinuousClock().sleep(until: origin.advanced(by: deadline), tolerance: nil)
    }
}

extension Duration {
    /// The duration in milliseconds, as a `Double`.
    public var milliseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1_000 + Double(attoseconds) / 1e15
    }

    /// A duration of `seconds` (fractional) seconds; beyond ±292 years (what `Int64` nanoseconds
    /// hold) it saturates, NaN gives zero.
    public static func fractionalSeconds(_ seconds: Double) -> Duration {
        let nanoseconds = (seconds * 1e9).rounded()
        if nanoseconds.isNaN { return .zero }
        if nanoseconds >= 9_223_372_036_854_775_807 { return .nanoseconds(Int64.max) }
        if nanoseconds <= -9_223_372_036_854_775_808 { return .nanoseconds(Int64.min) }
        return .nanoseconds(Int64(nanoseconds))
    }
}
