/// The clocks tandem is timed by: a standard `Clock` of `Duration`s (`ContinuousClock` in
/// production, tests' manual clock) whose instants also read as a `Duration` since a fixed origin.
///
/// Times are kept as those durations (latencies, deadlines, rate windows), so holders of the clock
/// stay free of generics and existential instants: `any MonotonicClock` is read with one call,
/// and is also an ordinary `Clock` (`sleep(for:)`, `Task.sleep(until:clock:)`). See docs/DESIGN.md.
public protocol MonotonicClock: Clock where Duration == Swift.Duration {
    /// The time since the clock's origin.
    var elapsed: Duration { get }
    /// The instant `elapsed` after the clock's origin.
    func instant(atElapsed elapsed: Duration) -> Instant
}

extension MonotonicClock {
    /// Suspends until ``elapsed`` reaches `deadline`.
    /// - Throws: `CancellationError` when the calling task is cancelled first.
    public func sleep(untilElapsed deadline: Duration) async throws {
        try await sleep(until: instant(atElapsed: deadline), tolerance: nil)
    }
}

/// The process's monotonic clock, with one origin for the whole process (so durations read by
/// different holders compare).
extension ContinuousClock: MonotonicClock {
    private static let origin = ContinuousClock.now

    public var elapsed: Duration { Self.origin.duration(to: now) }

    public func instant(atElapsed elapsed: Duration) -> Instant { Self.origin.advanced(by: elapsed) }
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
        // ±2^63 exactly (Int64's bounds are not Doubles); every Double inside converts.
        if nanoseconds >= 0x1p63 { return .nanoseconds(Int64.max) }
        if nanoseconds <= -0x1p63 { return .nanoseconds(Int64.min) }
        return .nanoseconds(Int64(nanoseconds))
    }
}
