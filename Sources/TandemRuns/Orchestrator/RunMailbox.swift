import Synchronization
import TandemDomain
import TandemJournal

/// What happened to a run, waiting for the orchestrator: model progress and outcomes, the client
/// leaving, shutdown. Unlike a stream of single inputs, it hands over everything that arrived
/// while the orchestrator was busy — so what happened during one journal commit is journaled
/// together in the next, and a run needs few sequential commits.
///
/// Progress that sends no frame (a first attempt's start, a first token) does not wake the
/// orchestrator: it waits in the mailbox for the next other input, and is handed over with it,
/// so that both share one commit — or, when nothing else comes, once ``hold`` has passed since
/// the first of it arrived (``RunSettings/progressHold``; zero hands everything over at once).
final class RunMailbox: Sendable {
    private struct State {
        var pending: [RunStateMachine.Input] = []
        /// The orchestrator, when it waits (one task reads the mailbox).
        var reader = WaiterList<Void, [RunStateMachine.Input]?>()
        var finished = false
        /// `pending` holds something the reader must see now (anything but held progress), or
        /// the hold of what it holds has passed.
        var due = false
        /// The timer that ends the current hold, while one runs.
        var holdTimer: DeadlineScheduler.Token?

        /// Hands `pending` over: the caller resumes the returned reader with it.
        mutating func take() -> [RunStateMachine.Input] {
            defer {
                pending = []
                due = false
            }
            return pending
        }
    }

    private let state = Mutex(State())
    /// How long progress may wait for company.
    private let hold: Duration
    /// Times holds (the shared deadline scheduler); `nil` holds nothing back.
    private let scheduler: DeadlineScheduler?
    private let clock: any MonotonicClock

    init(hold: Duration = .zero, scheduler: DeadlineScheduler? = nil, clock: any MonotonicClock = ContinuousClock()) {
        self.hold = scheduler == nil ? .zero : hold
        self.scheduler = scheduler
        self.clock = clock
    }

    /// Whether the reader is parked in ``next()`` (tests wait for it before they cancel it).
    var readerIsWaiting: Bool { state.withLock { !$0.reader.isEmpty } }

    /// Adds `input`; dropped once the mailbox is finished.
    func yield(_ input: RunStateMachine.Input) {
        let heldBack = hold > .zero && input.isHeldProgress
        let handOver = state.withLock { state -> (Wakeups<Void, [RunStateMachine.Input]?>, [RunStateMachine.Input])? in
            guard !state.finished else { return nil }
            state.pending.append(input)
            if !heldBack {
                state.due = true
            } else if !state.due, state.holdTimer == nil, let scheduler {
                // The scheduler's actions run outside its lock, so this order never reverses.
                state.holdTimer = scheduler.schedule(at: clock.elapsed + hold) { [weak self] in self?.holdPassed() }
            }
            guard state.due, !state.reader.isEmpty else { return nil }
            return (state.reader.takeAll(), takeCancellingHold(&state))
        }
        if let (reader, batch) = handOver { reader.resume(returning: batch) }
    }

    /// Ends the mailbox: ``next()`` returns what is pending, then `nil`.
    func finish() {
        state.withLock { state in
            state.finished = true
            if let timer = state.holdTimer { scheduler?.cancel(timer) }
            state.holdTimer = nil
            return state.reader.takeAll()
        }.resume(returning: nil)
    }

    /// Everything pending, in arrival order, once something in it is due; waits until then.
    /// `nil` when finished and empty, or when the calling task is cancelled.
    func next() async -> [RunStateMachine.Input]? {
        await state.wait(in: \.reader, tag: (), onCancel: .some(nil)) { state in
            if !state.pending.isEmpty, state.due || state.finished { return .some(takeCancellingHold(&state)) }
            return state.finished ? .some(nil) : nil
        }
    }

    private func holdPassed() {
        let handOver = state.withLock { state -> (Wakeups<Void, [RunStateMachine.Input]?>, [RunStateMachine.Input])? in
            state.holdTimer = nil
            guard !state.finished, !state.pending.isEmpty else { return nil }
            state.due = true
            guard !state.reader.isEmpty else { return nil }
            return (state.reader.takeAll(), state.take())
        }
        if let (reader, batch) = handOver { reader.resume(returning: batch) }
    }

    /// Takes what is pending; a hold still running is over (its progress goes with the batch).
    private func takeCancellingHold(_ state: inout State) -> [RunStateMachine.Input] {
        if let timer = state.holdTimer { scheduler?.cancel(timer) }
        state.holdTimer = nil
        return state.take()
    }
}

extension RunStateMachine.Input {
    /// Progress a run may hold back for a shared commit: it sends no frame, ends nothing, and
    /// its moment is known without its commit time (a first attempt starts with the run; a first
    /// token carries `after_ms`). Retries and later attempts are journaled at once.
    fileprivate var isHeldProgress: Bool {
        switch self {
        case .progress(.modelStarted(_, let started)): started.attempt == 1
        case .progress(.firstToken): true
        default: false
        }
    }
}
