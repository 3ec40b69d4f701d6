public import TandemDomain

/// The rules of a dual-model run (SPEC §2) as a pure state machine: inputs are what happened to
/// the models or the client, actions are what to journal and whom to cancel. No clocks, no I/O —
/// the orchestrator carries the actions out and stamps inputs with the elapsed time.
public struct RunStateMachine: Sendable {
    /// Where one model's call stands.
    public enum ModelState: Sendable, Equatable {
        case running
        case completed
        case failed(timedOut: Bool)
        /// Asked to stop; its `*_cancelled` is journaled once the call has really stopped.
        case cancelling(CancellationReason)
        case cancelled(CancellationReason)

        var isActive: Bool {
            switch self {
            case .running, .cancelling: true
            case .completed, .failed, .cancelled: false
            }
        }
    }

    /// Something that happened.
    public enum Input: Sendable, Equatable {
        /// Progress of a call to journal as it is (`*_started`, `*_first_token`, `*_retry`).
        case progress(DomainEvent)
        case completed(ModelRole, ModelCompleted)
        case timedOut(ModelRole, ModelTimeout)
        case failed(ModelRole, ModelFailed)
        /// A call ended because it was cancelled.
        case stopped(ModelRole)
        case clientDisconnected
        case shutdown
    }

    /// Something to do.
    public enum Action: Sendable, Equatable {
        /// Append these events (in one commit), then send their frames.
        case journal([DomainEvent])
        /// Stop this model's call.
        case cancel(ModelRole)
        /// The run is over (its `done` is in the preceding `.journal`).
        case finish
    }

    public private(set) var flash: ModelState = .running
    public private(set) var pro: ModelState = .running
    public private(set) var isFinished = false
    private var clientGone = false
    private let policy: FlashFailurePolicy

    public init(policy: FlashFailurePolicy) {
        self.policy = policy
    }

    /// Applies `input`, `elapsedMs` after the run started.
    public mutating func handle(_ input: Input, elapsedMs: Double) -> [Action] {
        guard !isFinished else { return [] }
        var events: [DomainEvent] = []
        var actions: [Action] = []
        switch input {
        case .progress(let event):
            guard let role = event.role, state(role) == .running else { return [] }
            events.append(event)
        case .completed(let role, let completed):
            switch state(role) {
            case .running:
                setState(role, .completed)
                events.append(.modelCompleted(role, completed))
                if role == .pro, flash == .running {
                    flash = .cancelling(.superseded)
                    actions.append(.cancel(.flash))
                }
            case .cancelling(let reason):
                // It finished before the cancellation reached it: the answer is dropped.
                setState(role, .cancelled(reason))
                events.append(.modelCancelled(role, ModelCancelled(reason: reason)))
            default:
                return []
            }
        case .timedOut(let role, let timeout):
            events += fail(role, timedOut: true, event: .modelTimeout(role, timeout), actions: &actions)
        case .failed(let role, let failure):
            events += fail(role, timedOut: false, event: .modelFailed(role, failure), actions: &actions)
        case .stopped(let role):
            switch state(role) {
            case .cancelling(let reason):
                setState(role, .cancelled(reason))
                events.append(.modelCancelled(role, ModelCancelled(reason: reason)))
            case .running:
                // Cancelled from outside the run (the server is being torn down).
                setState(role, .cancelled(.shutdown))
                events.append(.modelCancelled(role, ModelCancelled(reason: .shutdown)))
            default:
                return []
            }
        case .clientDisconnected:
            guard !clientGone else { return [] }
            clientGone = true
            events.append(.clientDisconnected(ClientDisconnected(elapsedMs: CanonicalJSON.milliseconds(elapsedMs))))
            actions += cancelRunning(.clientDisconnected)
        case .shutdown:
            actions += cancelRunning(.shutdown)
        }
        if !flash.isActive && !pro.isActive {
            events.append(.done(RunDone(status: status, durationMs: CanonicalJSON.milliseconds(elapsedMs))))
            isFinished = true
        }
        var result: [Action] = events.isEmpty ? [] : [.journal(events)]
        result += actions
        if isFinished { result.append(.finish) }
        return result
    }

    /// How the run ended, from the models' final states.
    public var status: RunStatus {
        if clientGone { return .cancelled }
        if pro == .completed {
            return flash == .completed || flash == .cancelled(.superseded) ? .ok : .partial
        }
        if flash == .completed { return .partial }
        if flash == .cancelled(.shutdown) || pro == .cancelled(.shutdown) { return .cancelled }
        if flash == .failed(timedOut: true) || pro == .failed(timedOut: true) { return .timeout }
        return .error
    }

    // MARK: Helpers

    public func state(_ role: ModelRole) -> ModelState { role == .flash ? flash : pro }

    private mutating func setState(_ role: ModelRole, _ state: ModelState) {
        if role == .flash { flash = state } else { pro = state }
    }

    private mutating func fail(_ role: ModelRole, timedOut: Bool, event: DomainEvent, actions: inout [Action]) -> [DomainEvent] {
        switch state(role) {
        case .running:
            setState(role, .failed(timedOut: timedOut))
            if role == .flash, policy == .cancelPro, pro == .running {
                pro = .cancelling(.siblingFailed)
                actions.append(.cancel(.pro))
            }
            return [event]
        case .cancelling(let reason):
            setState(role, .cancelled(reason))
            return [.modelCancelled(role, ModelCancelled(reason: reason))]
        default:
            return []
        }
    }

    private mutating func cancelRunning(_ reason: CancellationReason) -> [Action] {
        var actions: [Action] = []
        for role in ModelRole.allCases where state(role) == .running {
            setState(role, .cancelling(reason))
            actions.append(.cancel(role))
        }
        return actions
    }
}
