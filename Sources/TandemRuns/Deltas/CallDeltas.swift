import Synchronization
import TandemDomain

/// The deltas of one model call of a deltas run: feeds what the provider streams through a
/// ``DeltaCoalescer`` and hands the deltas due to the run's mailbox as ``RunStateMachine/Input/delta(_:_:)``,
/// keeping the coalescer's window as a timer in the shared ``DeadlineScheduler`` (the injected clock).
///
/// Deltas are handed over under this object's lock, and ``close()`` hands over the last ones before
/// the call's outcome is: so a call's deltas reach the run before its end, and none after it.
final class CallDeltas: Sendable {
    private struct State {
        var coalescer: DeltaCoalescer
        /// The window's pending timer and when it fires.
        var timer: (token: DeadlineScheduler.Token, at: Duration)?
        var closed = false
    }

    private let role: ModelRole
    private let clock: any MonotonicClock
    private let scheduler: DeadlineScheduler
    private let inputs: RunMailbox
    private let state: Mutex<State>

    init(role: ModelRole, coalescer: DeltaCoalescer, clock: any MonotonicClock, scheduler: DeadlineScheduler, inputs: RunMailbox) {
        self.role = role
        self.clock = clock
        self.scheduler = scheduler
        self.inputs = inputs
        self.state = Mutex(State(coalescer: coalescer))
    }

    /// A piece of the answer arrived; dropped once the call is closed (its deadline fired).
    func received(_ piece: String) {
        state.withLock { state in
            guard !state.closed else { return }
            hand(state.coalescer.append(piece, at: clock.elapsed))
            armTimer(&state)
        }
    }

    /// A new attempt starts: what the failed one streamed and was not journaled is dropped.
    func attemptRestarted() {
        state.withLock { state in
            guard !state.closed else { return }
            state.coalescer.dropBuffered()
            disarmTimer(&state)
        }
    }

    /// The call is over (or its deadline fired): hands over everything still buffered, and drops
    /// whatever arrives later. Idempotent.
    func close() {
        state.withLock { state in
            guard !state.closed else { return }
            state.closed = true
            disarmTimer(&state)
            hand(state.coalescer.finish())
        }
    }

    private func windowPassed() {
        state.withLock { state in
            guard !state.closed else { return }
            state.timer = nil
            hand(state.coalescer.flushIfDue(at: clock.elapsed))
            armTimer(&state)
        }
    }

    private func hand(_ deltas: [String]) {
        for text in deltas { inputs.yield(.delta(role, text)) }
    }

    /// Keeps one timer, at the coalescer's due time.
    private func armTimer(_ state: inout State) {
        guard let due = state.coalescer.dueAt else { return disarmTimer(&state) }
        if state.timer?.at == due { return }
        disarmTimer(&state)
        state.timer = (scheduler.schedule(at: due) { [self] in windowPassed() }, due)
    }

    private func disarmTimer(_ state: inout State) {
        if let timer = state.timer { scheduler.cancel(timer.token) }
        state.timer = nil
    }
}
