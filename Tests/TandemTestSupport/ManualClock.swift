public import TandemDomain
import Synchronization
import TandemJournal

/// A monotonic clock that moves only when a test says so. Sleepers wake when ``advance(to:)``
/// passes their deadline (resumed in deadline order); a cancelled sleeper throws
/// `CancellationError` at once.
public final class ManualClock: MonotonicClock {
    /// A point on the manual clock: the time since its origin (zero when made).
    public struct Instant: InstantProtocol {
        public var elapsed: Duration

        public func advanced(by duration: Duration) -> Instant { Instant(elapsed: elapsed + duration) }
        public func duration(to other: Instant) -> Duration { other.elapsed - elapsed }
        public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.elapsed < rhs.elapsed }
    }

    private enum Waiting: Sendable {
        /// A sleeper, until this deadline.
        case sleeper(Duration)
        /// A test, until this many tasks sleep.
        case sleepers(Int)

        var isSleeper: Bool {
            if case .sleeper = self { return true }
            return false
        }
    }

    private struct State {
        var now: Duration = .zero
        /// Resumed with `true` when woken, `false` when cancelled.
        var waiters = WaiterList<Waiting, Bool>()

        var sleeperCount: Int { waiters.count(where: \.isSleeper) }
    }

    private let state = Mutex(State())

    public init() {}

    public var now: Instant { Instant(elapsed: elapsed) }

    public var elapsed: Duration { state.withLock { $0.now } }

    public var minimumResolution: Duration { .zero }

    public func instant(atElapsed elapsed: Duration) -> Instant { Instant(elapsed: elapsed) }

    /// How many tasks are sleeping on this clock.
    public var sleeperCount: Int { state.withLock { $0.sleeperCount } }

    public func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        try Task.checkCancellation()
        let woken = await state.wait(
            in: \.waiters, tag: .sleeper(deadline.elapsed), onCancel: false,
            parked: { state in
                let sleepers = state.sleeperCount
                return (state.waiters.take { if case .sleepers(let count) = $0 { count <= sleepers } else { false } }, true)
            },
            until: { state in deadline.elapsed <= state.now ? true : nil }
        )
        if !woken { throw CancellationError() }
    }

    /// Moves time to `instant` (never backwards), waking every sleeper whose deadline has come.
    public func advance(to instant: Duration) {
        var due = state.withLock { state in
            state.now = max(state.now, instant)
            let now = state.now
            return state.waiters.take { waiting in
                if case .sleeper(let deadline) = waiting { deadline <= now } else { false }
            }
        }
        due.sort { lhs, rhs in
            if case .sleeper(let left) = lhs, case .sleeper(let right) = rhs { return left < right }
            return false
        }
        due.resume(returning: true)
    }

    /// Moves time forward by `duration`.
    public func advance(by duration: Duration) {
        advance(to: elapsed + duration)
    }

    /// Returns once at least `count` tasks sleep on the clock (or the calling task is cancelled,
    /// as by a test's time limit).
    public func waitForSleepers(_ count: Int) async {
        _ = await state.wait(in: \.waiters, tag: .sleepers(count), onCancel: false) { state in
            state.sleeperCount >= count ? true : nil
        }
    }
}
