import Synchronization
import TandemDomain

/// The moving deadline of one model call: first-token, then idle-gap deadlines, always capped by
/// the total deadline. Streamed text pushes it; a watchdog sleeps until it and reports the phase
/// that expired if it has not moved meanwhile.
///
/// The deadline never moves earlier — before the first token it is the earliest of the
/// first-token, idle (measured from the start) and total deadlines; after a chunk it is
/// `min(total, chunk + idle)` — so a watchdog asleep until the old deadline always wakes in time.
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

    /// Sleeps until the deadline expires without having moved, then returns it.
    /// - Throws: `CancellationError` when the calling task is cancelled first.
    func expiry(on clock: any MonotonicClock) async throws -> Deadline {
        while true {
            let deadline = current
            try await clock.sleep(until: deadline.at)
            if current == deadline { return deadline }
        }
    }
}
