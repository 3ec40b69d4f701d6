import Synchronization
public import TandemDomain

/// A circuit breaker per model: after ``threshold`` consecutive failed calls it opens, and calls
/// fail fast (`circuit_open`) for ``coolDown``; then one trial call is let through (half-open),
/// whose success closes the circuit and whose failure opens it again. A trial that ends any other
/// way (cancelled, or a failure that says nothing about the upstream) is released: the next call
/// becomes the trial.
public final class CircuitBreaker: Sendable {
    private enum State {
        case closed(failures: Int)
        case open(until: Duration)
        case halfOpen
    }

    /// What ``allow()`` decided for one call.
    enum Admission {
        /// The circuit is closed: an ordinary call.
        case call
        /// The one call let through while half-open: its end must be reported (success, failure
        /// or ``release(_:)``), or every later call fails fast.
        case trial
        /// Fail fast.
        case refused
    }

    public let threshold: Int
    public let coolDown: Duration
    private let clock: any MonotonicClock
    private let state = Mutex(State.closed(failures: 0))

    public init(threshold: Int = 5, coolDown: Duration = .seconds(30), clock: any MonotonicClock) {
        self.threshold = threshold
        self.coolDown = coolDown
        self.clock = clock
    }

    /// Whether a call may go upstream now, and whether it is the half-open trial.
    func allow() -> Admission {
        let now = clock.elapsed
        return state.withLock { state in
            switch state {
            case .closed: return .call
            case .halfOpen: return .refused
            case .open(let until):
                guard now >= until else { return .refused }
                state = .halfOpen
                return .trial
            }
        }
    }

    func recordSuccess() {
        state.withLock { $0 = .closed(failures: 0) }
    }

    func recordFailure() {
        let now = clock.elapsed
        state.withLock { state in
            switch state {
            case .closed(let failures):
                state = failures + 1 >= threshold ? .open(until: now + coolDown) : .closed(failures: failures + 1)
            case .halfOpen, .open:
                state = .open(until: now + coolDown)
            }
        }
    }

    /// Ends a call that neither succeeded nor failed upstream (cancelled, or failed before or
    /// beside the upstream). A trial gives its place back: the cool-down is over, so the next call
    /// is let through as the new trial. An ordinary call changes nothing.
    func release(_ admission: Admission) {
        guard case .trial = admission else { return }
        let now = clock.elapsed
        state.withLock { state in
            if case .halfOpen = state { state = .open(until: now) }
        }
    }

    /// Whether the circuit currently refuses calls.
    public var isOpen: Bool {
        let now = clock.elapsed
        return state.withLock { state in
            if case .open(let until) = state { return now < until }
            return false
        }
    }
}
