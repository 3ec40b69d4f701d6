public import TandemDomain

/// The rules of a dual-model run (SPEC §2) as a pure state machine, and the one authority over a
/// run: inputs are everything that happens to it — model progress and outcomes (a provider error of
/// any kind arrives as `.failed`), the client leaving, shutdown, a failed journal append — and
/// actions are what to journal, what to tell the client and whom to cancel. No clocks, no I/O: the
/// orchestrator carries the actions out and stamps inputs with the elapsed time.
///
/// Invariants (walked over every input order in `RunStateMachineInvariantTests`):
/// - a run closes exactly once: with `done` when its journal works, else with `run_aborted`;
///   nothing is journaled or done after that (``Action/finish``);
/// - the run finishes only once both calls have ended (nothing outlives its run), and every call
///   has journaled its end (`*_completed`, `*_failed`, `*_timeout` or `*_cancelled`) before `done`;
/// - each call is cancelled at most once, and only while it runs;
/// - a model's deltas concatenate (in seq order) to its `*_completed.content`, or to what it
///   produced before its end event, and all of them precede that end event; a superseded Flash's
///   last deltas are dropped with it.
public struct RunStateMachine: Sendable {
    /// Where one model's call stands.
    public enum ModelState: Sendable, Equatable {
        case running
        case completed
        case failed(timedOut: Bool)
        /// Asked to stop; its `*_cancelled` is journaled once the call has really stopped.
        case cancelling(CancellationReason)
        case cancelled(CancellationReason)
        /// Asked to stop because the journal failed: nothing more of the call is journaled.
        case abandoning
        /// Stopped (or ended) after the journal failed; its end is not journaled.
        case abandoned

        var isActive: Bool {
            switch self {
            case .running, .cancelling, .abandoning: true
            case .completed, .failed, .cancelled, .abandoned: false
            }
        }
    }

    /// Something that happened.
    public enum Input: Sendable, Equatable {
        /// Progress of a call to journal as it is (`*_started`, `*_first_token`, `*_retry`).
        case progress(DomainEvent)
        /// Coalesced, redacted text a call streamed (deltas runs only; each call's deltas arrive
        /// before its outcome, and its last ones right before it).
        case delta(ModelRole, String)
        case completed(ModelRole, ModelCompleted)
        case timedOut(ModelRole, ModelTimeout)
        case failed(ModelRole, ModelFailed)
        /// A call ended because it was cancelled.
        case stopped(ModelRole)
        case clientDisconnected
        case shutdown
        /// The append of the last `.journal` action failed (`cause` describes why): none of its
        /// events are durable, and nothing more of the run can be journaled.
        case journalFailed(cause: String)
    }

    /// Something to do.
    public enum Action: Sendable, Equatable {
        /// Append these events (in one commit), then send their frames.
        case journal([DomainEvent])
        /// Stop this model's call.
        case cancel(ModelRole)
        /// The run cannot be journaled any more: send the client the stream-failure frames (not
        /// journaled, so without ids), which end its stream.
        case failStream
        /// Close the run with this event once the journal takes writes again (its calls have stopped).
        case abort(RunAborted)
        /// The run is over: its closing event is in the preceding `.journal` or `.abort`.
        case finish
    }

    public private(set) var flash: ModelState = .running
    public private(set) var pro: ModelState = .running
    public private(set) var isFinished = false
    /// The `run_aborted` that will close the run, set once a journal append of the run failed: from
    /// then on nothing of it is journaled. (Read by the orchestrator when the run's task ends
    /// before the calls have stopped, so the run is still closed as soon as the journal allows.)
    public private(set) var abortion: RunAborted?
    private var clientGone = false
    /// UTF-8 bytes of each model's answer journaled as deltas: the next delta's `offset`.
    private var flashStreamedBytes = 0
    private var proStreamedBytes = 0
    private let policy: FlashFailurePolicy

    public init(policy: FlashFailurePolicy) {
        self.policy = policy
    }

    /// Applies `input`, `elapsedMs` after the run started.
    public mutating func handle(_ input: Input, elapsedMs: Double) -> [Action] {
        if case .journalFailed(let cause) = input { return handleJournalFailure(cause: cause) }
        guard !isFinished else {
            switch input {
            case .clientDisconnected, .shutdown:
                // The client or the server may leave at any time, also after the run closed.
                return []
            case .progress, .delta, .completed, .timedOut, .failed, .stopped:
                // Impossible: the run finishes only once both calls have reported their one outcome,
                // and a call reports progress and deltas only before its outcome.
                assertionFailure("model input \(input) after the run finished")
                return []
            case .journalFailed:
                // Impossible: taken by `handleJournalFailure` above.
                assertionFailure("journal failure not handled first")
                return []
            }
        }
        if let abortion { return abandonedRun(input, closing: abortion) }
        var events: [DomainEvent] = []
        var actions: [Action] = []
        switch input {
        case .progress(let event):
            guard let role = event.role else {
                // Impossible: the orchestrator only relays per-model events as progress.
                assertionFailure("progress without a model: \(event)")
                return []
            }
            switch state(role) {
            case .running:
                events.append(event)
            case .cancelling:
                // The call was asked to stop and has not yet noticed: what it still does is moot.
                return []
            case .completed, .failed, .cancelled, .abandoning, .abandoned:
                // Impossible: a call's progress comes before its outcome (abandoned states only
                // exist once the journal failed, handled above).
                assertionFailure("progress of \(role) in state \(state(role))")
                return []
            }
        case .delta(let role, let text):
            switch state(role) {
            case .running, .cancelling(.clientDisconnected), .cancelling(.shutdown), .cancelling(.siblingFailed):
                // A cancelled call's last deltas still go before its end: the client saw them.
                guard !text.isEmpty else { return [] }
                events.append(.modelDelta(role, ModelDelta(text: text, offset: streamedBytes(role))))
                addStreamedBytes(role, text.utf8.count)
            case .cancelling(.superseded):
                // Pro's verified answer replaced Flash's: the rest of Flash's stream is dropped.
                return []
            case .completed, .failed, .cancelled, .abandoning, .abandoned:
                // Impossible: a call's deltas come before its outcome (abandoned states only exist
                // once the journal failed, handled above).
                assertionFailure("delta of \(role) in state \(state(role))")
                return []
            }
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
            case .completed, .failed, .cancelled, .abandoning, .abandoned:
                // Impossible: each call reports exactly one outcome.
                assertionFailure("second outcome of \(role) in state \(state(role))")
                return []
            }
        case .timedOut(let role, let timeout):
            guard let ended = fail(role, timedOut: true, event: .modelTimeout(role, timeout), actions: &actions) else { return [] }
            events.append(ended)
        case .failed(let role, let failure):
            guard let ended = fail(role, timedOut: false, event: .modelFailed(role, failure), actions: &actions) else { return [] }
            events.append(ended)
        case .stopped(let role):
            switch state(role) {
            case .cancelling(let reason):
                setState(role, .cancelled(reason))
                events.append(.modelCancelled(role, ModelCancelled(reason: reason)))
            case .running:
                // Cancelled from outside the run (the server is being torn down).
                setState(role, .cancelled(.shutdown))
                events.append(.modelCancelled(role, ModelCancelled(reason: .shutdown)))
            case .completed, .failed, .cancelled, .abandoning, .abandoned:
                // Impossible: each call reports exactly one outcome.
                assertionFailure("second outcome (stopped) of \(role) in state \(state(role))")
                return []
            }
        case .clientDisconnected:
            // Reported once per departure; a second report changes nothing.
            guard !clientGone else { return [] }
            clientGone = true
            events.append(.clientDisconnected(ClientDisconnected(elapsedMs: CanonicalJSON.milliseconds(elapsedMs))))
            actions += cancelRunning(.clientDisconnected)
        case .shutdown:
            actions += cancelRunning(.shutdown)
        case .journalFailed:
            // Impossible: taken by `handleJournalFailure` above.
            assertionFailure("journal failure not handled first")
            return []
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

    /// A journal append failed: tell the client, stop the calls still running, and close the run with
    /// `run_aborted` once they have stopped. When the failed append held `done`, the run had
    /// finished but its end is not durable: it closes with `run_aborted` instead.
    private mutating func handleJournalFailure(cause: String) -> [Action] {
        guard abortion == nil else {
            // Impossible: nothing is appended after a failure, so no second append can fail.
            assertionFailure("a second journal failure: \(cause)")
            return []
        }
        let aborted = RunAborted(
            reason: "the audit journal failed mid-run (\(cause)); the run was ended once the journal could write again"
        )
        abortion = aborted
        var actions: [Action] = [.failStream]
        for role in ModelRole.allCases {
            switch state(role) {
            case .running:
                setState(role, .abandoning)
                actions.append(.cancel(role))
            case .cancelling:
                // Already asked to stop; its end will not be journaled.
                setState(role, .abandoning)
            case .completed, .failed, .cancelled, .abandoning, .abandoned:
                break
            }
        }
        if !flash.isActive && !pro.isActive {
            actions.append(.abort(aborted))
            if !isFinished { actions.append(.finish) }
            isFinished = true
        }
        return actions
    }

    /// An input after the journal failed: only the calls' ends matter, to close the run once both
    /// have stopped.
    private mutating func abandonedRun(_ input: Input, closing aborted: RunAborted) -> [Action] {
        switch input {
        case .progress, .delta, .clientDisconnected, .shutdown:
            // Nothing can be journaled; the calls are already stopping.
            return []
        case .journalFailed:
            // Impossible: taken by `handleJournalFailure` first.
            assertionFailure("journal failure not handled first")
            return []
        case .completed(let role, _), .timedOut(let role, _), .failed(let role, _), .stopped(let role):
            guard state(role) == .abandoning else {
                // Impossible: every call still running was abandoned when the journal failed, and
                // each call reports exactly one outcome.
                assertionFailure("outcome of \(role) in state \(state(role)) after the journal failed")
                return []
            }
            setState(role, .abandoned)
        }
        guard !flash.isActive && !pro.isActive else { return [] }
        isFinished = true
        return [.abort(aborted), .finish]
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

    /// UTF-8 bytes of `role`'s answer journaled as deltas so far.
    public func streamedBytes(_ role: ModelRole) -> Int { role == .flash ? flashStreamedBytes : proStreamedBytes }

    private mutating func addStreamedBytes(_ role: ModelRole, _ count: Int) {
        if role == .flash { flashStreamedBytes += count } else { proStreamedBytes += count }
    }

    /// The event ending `role`'s call that failed or timed out (`nil` when impossible).
    private mutating func fail(_ role: ModelRole, timedOut: Bool, event: DomainEvent, actions: inout [Action]) -> DomainEvent? {
        switch state(role) {
        case .running:
            setState(role, .failed(timedOut: timedOut))
            if role == .flash, policy == .cancelPro, pro == .running {
                pro = .cancelling(.siblingFailed)
                actions.append(.cancel(.pro))
            }
            return event
        case .cancelling(let reason):
            // It failed before the cancellation reached it: journaled as the cancellation it is.
            setState(role, .cancelled(reason))
            return .modelCancelled(role, ModelCancelled(reason: reason))
        case .completed, .failed, .cancelled, .abandoning, .abandoned:
            // Impossible: each call reports exactly one outcome.
            assertionFailure("second outcome of \(role) in state \(state(role))")
            return nil
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
