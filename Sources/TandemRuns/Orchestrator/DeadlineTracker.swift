import Synchronization
import TandemDomain

/// The moving deadline of one model call: first-token, then idle-gap deadlines, always capped by
/// the total deadline. Streamed text pushes it; the ``DeadlineScheduler`` fires at it, and the
/// call has timed out in the phase it names if it has not moved meanwhile.
///
/// The deadline never moves earlier — before the first token it is the earliest of the
/// first-token, idle (measured from the start) and total deadlines; after a chunk it is
/// `min(total, chunk + idle)` — so a deadline scheduled at the old place always fires in time.
final class DeadlineTracker: Sendable {
    struct Deadline: Equatable {
        var at: Duration
        var phase: TimeoutPhase
    }

    private struct State {
        var current: Deadline
        var firstTokenAt: Duration?
    }

    private let start: Duration
    private let deadlines: ModelDeadlines
    private let state: Mutex<State>

    init(start: Duration, deadlines: ModelDeadlines) {
        self.start = start
        self.deadlines = deadlines
        var initial = Deadline(at: start + deadlines.total, phase: .total)
        if let idle = deadlines.idle, start + idle < initial.at {
            initial = Deadline(at: start + idle, phase: .idle)
        }
        if let firstToken = deadlines.firstToken, start + firstToken <= initial.at {
            initial = Deadline(at: start + firstToken, phase: .firstToken)
        }
        state = Mutex(State(current: initial, firstTokenAt: nil))
    }

    var current: Deadline { state.withLock { $0.current } }
    var firstTokenAt: Duration? { state.withLock { $0.firstTokenAt } }

    /// Records streamed text at `now`; returns true when it is the first.
    func progress(at now: Duration) -> Bool {
        state.withLock { state in
            let isFirst = state.firstTokenAt == nil
            if isFirst { state.firstTokenAt = now }
            let total = Deadline(at: start + deadlines.total, phase: .total)
            if let idle = deadlines.idle, now + idle < total.at {
                state.current = Deadline(at: now + idle, phase: .idle)
            } else {
                state.current = total
            }
            return isFirst
        }
    }
}
