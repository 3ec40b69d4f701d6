import TandemDomain
import TandemRuns
import Testing

/// The run's invariants where they are decided: every order of every input a run can receive
/// (model progress, streamed deltas and outcomes, provider errors, client departure, shutdown, a
/// failed journal append) walked through ``RunStateMachine``, under both Flash-failure policies.
@Suite("Run state machine invariants")
struct RunStateMachineInvariantTests {
    @Test(
        "Every input order: one closing event, nothing after finish, no call outlives the run, deltas before their end and whole",
        arguments: FlashFailurePolicy.allCases
    )
    func everyInputOrder(policy: FlashFailurePolicy) {
        var walked = 0
        RunWorld(policy: policy).explore { world in
            walked += 1
            world.checkClosed()
        }
        // Both calls' four outcomes, with or without progress and deltas, departure, shutdown and journal failure.
        #expect(walked > 30_000)
    }

    @Test("A delta is journaled with the bytes before it as its offset; a superseded Flash's last deltas are dropped")
    func deltaOffsetsAndSupersededFlash() {
        var machine = RunStateMachine(policy: .continue)
        #expect(machine.handle(.delta(.flash, "héllo "), elapsedMs: 1) == [.journal([.modelDelta(.flash, ModelDelta(text: "héllo ", offset: 0))])])
        #expect(machine.handle(.delta(.flash, "wörld"), elapsedMs: 2) == [.journal([.modelDelta(.flash, ModelDelta(text: "wörld", offset: 7))])])
        #expect(machine.streamedBytes(.flash) == 13)
        let pro = ModelCompleted(model: "p", content: "x", usage: TokenUsage(inputTokens: 1, outputTokens: 1), latencyMs: 3)
        #expect(machine.handle(.delta(.pro, "x"), elapsedMs: 3) == [.journal([.modelDelta(.pro, ModelDelta(text: "x", offset: 0))])])
        #expect(machine.handle(.completed(.pro, pro), elapsedMs: 3) == [.journal([.modelCompleted(.pro, pro)]), .cancel(.flash)])
        #expect(machine.handle(.delta(.flash, " and more"), elapsedMs: 4) == [], "superseded: the buffer is dropped")
        #expect(machine.handle(.stopped(.flash), elapsedMs: 5).first == .journal([
            .modelCancelled(.flash, ModelCancelled(reason: .superseded)), .done(RunDone(status: .ok, durationMs: 5)),
        ]))
    }

    @Test("A call cancelled because the client left journals its last deltas before its cancellation")
    func lastDeltasOfCancelledCall() {
        var machine = RunStateMachine(policy: .continue)
        _ = machine.handle(.clientDisconnected, elapsedMs: 1)
        #expect(machine.handle(.delta(.pro, "seen"), elapsedMs: 2) == [.journal([.modelDelta(.pro, ModelDelta(text: "seen", offset: 0))])])
        #expect(machine.handle(.stopped(.pro), elapsedMs: 3) == [.journal([.modelCancelled(.pro, ModelCancelled(reason: .clientDisconnected))])])
    }

    @Test("A journal failure stops the running calls and closes the run with run_aborted once they have stopped")
    func journalFailureMidRun() {
        var machine = RunStateMachine(policy: .continue)
        let started = DomainEvent.modelStarted(.flash, ModelStarted(model: "f", attempt: 1))
        #expect(machine.handle(.progress(started), elapsedMs: 1) == [.journal([started])])
        #expect(machine.handle(.journalFailed(cause: "disk full"), elapsedMs: 2) == [.failStream, .cancel(.flash), .cancel(.pro)])
        #expect(machine.handle(.progress(started), elapsedMs: 3) == [], "nothing is journaled after the failure")
        #expect(machine.handle(.clientDisconnected, elapsedMs: 3) == [])
        #expect(machine.handle(.stopped(.flash), elapsedMs: 4) == [])
        #expect(!machine.isFinished, "Pro still runs")
        let aborted = RunAborted(reason: "the audit journal failed mid-run (disk full); the run was ended once the journal could write again")
        #expect(machine.handle(.completed(.pro, ModelCompleted(model: "p", content: "x", usage: TokenUsage(inputTokens: 1, outputTokens: 1), latencyMs: 5)), elapsedMs: 5) == [
            .abort(aborted), .finish,
        ])
        #expect(machine.handle(.shutdown, elapsedMs: 6) == [])
    }

    @Test("When the commit holding done fails, the run closes with run_aborted instead, and finishes only once")
    func journalFailureOfDone() {
        var machine = RunStateMachine(policy: .continue)
        let failed = ModelFailed(errorClass: "internal", message: "x", retryable: false)
        _ = machine.handle(.failed(.flash, failed), elapsedMs: 1)
        let actions = machine.handle(.failed(.pro, failed), elapsedMs: 2)
        #expect(actions == [.journal([.modelFailed(.pro, failed), .done(RunDone(status: .error, durationMs: 2))]), .finish])
        let aborted = RunAborted(reason: "the audit journal failed mid-run (io); the run was ended once the journal could write again")
        #expect(machine.handle(.journalFailed(cause: "io"), elapsedMs: 3) == [.failStream, .abort(aborted)])
    }

    @Test("A call already being cancelled is not cancelled again when the journal fails")
    func journalFailureWhileCancelling() {
        var machine = RunStateMachine(policy: .continue)
        #expect(machine.handle(.clientDisconnected, elapsedMs: 1).filter { if case .cancel = $0 { true } else { false } } == [.cancel(.flash), .cancel(.pro)])
        #expect(machine.handle(.journalFailed(cause: "io"), elapsedMs: 2) == [.failStream])
        #expect(machine.handle(.stopped(.flash), elapsedMs: 3) == [])
        #expect(machine.handle(.stopped(.pro), elapsedMs: 3).last == .finish)
    }

    @Test("The client leaving twice is one departure")
    func departureOnce() {
        var machine = RunStateMachine(policy: .continue)
        #expect(machine.handle(.clientDisconnected, elapsedMs: 1).count == 3)
        #expect(machine.handle(.clientDisconnected, elapsedMs: 2) == [])
        #expect(machine.handle(.shutdown, elapsedMs: 3) == [], "both calls are already being cancelled")
    }
}

/// One run as the orchestrator drives it: each call reports at most one progress event, streams
/// at most its one delta (``RunWorld/deltaTexts``; a completed call streamed all or none) and then
/// exactly one outcome; the client may leave and the server may shut down at any time; a journal
/// append may fail (once: nothing is appended after). A `.journal` action is committed unless the
/// next input reports its failure.
private struct RunWorld {
    var machine: RunStateMachine
    var ended: [ModelRole: Bool] = [.flash: false, .pro: false]
    var progressed: [ModelRole: Bool] = [.flash: false, .pro: false]
    var streamed: [ModelRole: Int] = [.flash: 0, .pro: 0]
    var cancelled: [ModelRole: Bool] = [.flash: false, .pro: false]
    var clientLeft = false
    var shutDown = false
    var journalFailed = false
    /// The events of the last `.journal` action, not yet known to be durable.
    var pending: [DomainEvent]?
    var committed: [DomainEvent] = []
    var aborted: [RunAborted] = []
    var streamFailures = 0
    var finishes = 0
    var inputs: [RunStateMachine.Input] = []

    /// The pieces of every answer, in order; they concatenate to ``content``.
    static let deltaTexts = ["answér"]
    static let content = "answér"

    init(policy: FlashFailurePolicy) {
        machine = RunStateMachine(policy: policy)
    }

    /// Calls `visit` with every world in which the run has finished, reached by any input order.
    func explore(_ visit: (RunWorld) -> Void) {
        let next = possibleInputs
        if machine.isFinished {
            visit(self)
            // The commit that held the closing `done` may still fail.
            if next.contains(.journalFailed(cause: "io")) {
                var failed = self
                failed.apply(.journalFailed(cause: "io"))
                visit(failed)
            }
            return
        }
        #expect(!next.isEmpty, "the run waits for nothing but is not finished: \(inputs)")
        for input in next {
            var world = self
            world.apply(input)
            world.explore(visit)
        }
    }

    var possibleInputs: [RunStateMachine.Input] {
        var inputs: [RunStateMachine.Input] = []
        for role in ModelRole.allCases where ended[role] == false {
            if progressed[role] == false { inputs.append(.progress(.modelStarted(role, ModelStarted(model: "m", attempt: 1)))) }
            let streamedCount = streamed[role] ?? 0
            if streamedCount < Self.deltaTexts.count { inputs.append(.delta(role, Self.deltaTexts[streamedCount])) }
            if streamedCount == 0 || streamedCount == Self.deltaTexts.count {
                inputs.append(.completed(
                    role, ModelCompleted(model: "m", content: Self.content, usage: TokenUsage(inputTokens: 1, outputTokens: 1), latencyMs: 1)
                ))
            }
            inputs += [
                .failed(role, ModelFailed(errorClass: "upstream_http_5xx", message: "x", httpStatus: 500, retryable: true)),
                .timedOut(role, ModelTimeout(timeoutS: 1, phase: .total, elapsedMs: 1_000)),
                .stopped(role),
            ]
        }
        if !machine.isFinished {
            if !clientLeft { inputs.append(.clientDisconnected) }
            if !shutDown { inputs.append(.shutdown) }
        }
        if pending != nil, !journalFailed { inputs.append(.journalFailed(cause: "io")) }
        return inputs
    }

    mutating func apply(_ input: RunStateMachine.Input) {
        inputs.append(input)
        switch input {
        case .journalFailed:
            journalFailed = true
            pending = nil
        default:
            if let pending { committed += pending }
            pending = nil
        }
        switch input {
        case .progress(let event): progressed[event.role!] = true
        case .delta(let role, _): streamed[role, default: 0] += 1
        case .completed(let role, _), .failed(let role, _), .timedOut(let role, _), .stopped(let role): ended[role] = true
        case .clientDisconnected: clientLeft = true
        case .shutdown: shutDown = true
        case .journalFailed: break
        }
        let finishedBefore = machine.isFinished
        let actions = machine.handle(input, elapsedMs: Double(inputs.count))
        if finishedBefore {
            // Only the failed commit of the closing batch may still change how the run closes.
            if case .journalFailed = input {
                #expect(actions.allSatisfy { $0 == .failStream || { if case .abort = $0 { true } else { false } }($0) }, "\(inputs)")
            } else {
                #expect(actions.isEmpty, "actions after finish: \(actions) after \(inputs)")
            }
        }
        for action in actions {
            switch action {
            case .journal(let events):
                #expect(!journalFailed, "journaled after the journal failed: \(inputs)")
                #expect(pending == nil)
                pending = events
            case .cancel(let role):
                #expect(ended[role] == false, "cancelled a call that had ended: \(inputs)")
                #expect(cancelled[role] == false, "cancelled \(role) twice: \(inputs)")
                cancelled[role] = true
            case .failStream:
                streamFailures += 1
            case .abort(let event):
                aborted.append(event)
            case .finish:
                finishes += 1
                #expect(ended.values.allSatisfy { $0 }, "finished while a call runs: \(inputs)")
            }
        }
        if ended.values.allSatisfy({ $0 }) && !journalFailed {
            #expect(machine.isFinished, "both calls ended but the run did not finish: \(inputs)")
        }
    }

    /// The run as closed: exactly one closing event, every call's end journaled before `done`.
    func checkClosed() {
        var world = self
        if let pending = world.pending { world.committed += pending }
        #expect(finishes == 1, "finish \(finishes) times: \(inputs)")
        let dones = world.committed.filter { if case .done = $0 { true } else { false } }
        if journalFailed {
            #expect(dones.isEmpty && aborted.count == 1 && streamFailures == 1, "\(inputs)")
            return
        }
        #expect(aborted.isEmpty && streamFailures == 0)
        #expect(dones.count == 1, "\(dones.count) done events: \(inputs)")
        guard case .done? = world.committed.last else {
            Issue.record("done is not the last event: \(inputs)")
            return
        }
        for role in ModelRole.allCases {
            let ends = world.committed.enumerated().filter { _, event in
                switch event {
                case .modelCompleted(role, _), .modelFailed(role, _), .modelTimeout(role, _), .modelCancelled(role, _): true
                default: false
                }
            }
            #expect(ends.count == 1, "\(role) ends \(ends.count) times: \(inputs)")
            let last = world.committed.lastIndex { $0.role == role }
            #expect(last == ends.first?.offset, "\(role) has events (deltas too) after its end: \(inputs)")
            var text = ""
            for case .modelDelta(role, let delta) in world.committed {
                #expect(delta.offset == text.utf8.count, "\(role) delta offset \(delta.offset) after \(text.utf8.count) bytes: \(inputs)")
                text += delta.text
            }
            #expect(Self.deltaTexts.joined().hasPrefix(text), "\(role) deltas lost or reordered: \(inputs)")
            if case .modelCompleted(role, let completed)? = ends.first?.element, streamed[role] != 0 {
                #expect(text == completed.content, "\(role) deltas do not make its content: \(inputs)")
            }
        }
    }
}
