import Synchronization
public import TandemDomain

/// A circuit breaker per model: after ``threshold`` consecutive failed calls it opens, and calls
/// fail fast (`circuit_open`) for ``coolDown``; then one trial call is let through (half-open),
/// whose success closes the circuit and whose failure opens it again.
public final class CircuitBreaker: Sendable {
    private enum State {
        case closed(failures: Int)
        case open(until: Duration)
        case halfOpen
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

    /// Whether a call may go upstream now; `false` means fail fast.
    func allow() -> Bool {
        let now = clock.now
        return state.withLock { state in
            switch state {
            case .closed: return true
            case .halfOpen: return false
            case .open(let until):
                guard now >= until else { return false }
                state = .halfOpen
                return true
            }
        }
    }

    func recordSuccess() {
        state.withLock { $0 = .closed(failures: 0) }
    }

    func recordFailure() {
        let now = clock.now
        state.withLock { state in
            switch state {
            case .closed(let failures):
                state = failures + 1 >= threshold ? .open(until: now + coolDown) : .closed(failures: failures + 1)
            case .halfOpen, .open:
                state = .open(until: now + coolDown)
            }
        }
    }

    /// Whether the circuit currently refuses calls.
    public var isOpen: Bool {
        let now = clock.now
        return state.withLock { state in
            if case .open(let until) = state { return now < until }
            return false
        }
    }
}
