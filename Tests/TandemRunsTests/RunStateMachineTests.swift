import TandemDomain
import TandemRuns
import Testing

/// The run rules without sockets or clocks: inputs in, actions out.
@Suite("Run state machine")
struct RunStateMachineTests {
    private let flashAnswer = ModelCompleted(model: "f", content: "quick", usage: TokenUsage(inputTokens: 1, outputTokens: 1), latencyMs: 10)
    private let proAnswer = ModelCompleted(model: "p", content: "verified", usage: TokenUsage(inputTokens: 1, outputTokens: 2), latencyMs: 20)
    private let failure = ModelFailed(errorClass: "upstream_http_5xx", message: "x", httpStatus: 500, retryable: true)
    private let timeout = ModelTimeout(timeoutS: 5, phase: .total, elapsedMs: 5_000)

    @Test("Flash then Pro: two commits, then done ok")
    func flashThenPro() {
        var machine = RunStateMachine(policy: .continue)
        #expect(machine.handle(.completed(.flash, flashAnswer), elapsedMs: 10) == [.journal([.modelCompleted(.flash, flashAnswer)])])
        #expect(machine.handle(.completed(.pro, proAnswer), elapsedMs: 20) == [
            .journal([.modelCompleted(.pro, proAnswer), .done(RunDone(status: .ok, durationMs: 20))]), .finish,
        ])
        #expect(machine.isFinished)
        #expect(machine.handle(.clientDisconnected, elapsedMs: 30) == [], "nothing happens after done")
    }

    @Test("Pro first cancels Flash as superseded; done comes once Flash has stopped")
    func proFirst() {
        var machine = RunStateMachine(policy: .continue)
        #expect(machine.handle(.completed(.pro, proAnswer), elapsedMs: 20) == [.journal([.modelCompleted(.pro, proAnswer)]), .cancel(.flash)])
        #expect(machine.flash == .cancelling(.superseded))
        #expect(machine.handle(.stopped(.flash), elapsedMs: 21) == [
            .journal([.modelCancelled(.flash, ModelCancelled(reason: .superseded)), .done(RunDone(status: .ok, durationMs: 21))]), .finish,
        ])
    }

    @Test("A Flash answer that races its cancellation is dropped, not sent")
    func lateFlashDropped() {
        var machine = RunStateMachine(policy: .continue)
        _ = machine.handle(.completed(.pro, proAnswer), elapsedMs: 20)
        let actions = machine.handle(.completed(.flash, flashAnswer), elapsedMs: 21)
        #expect(actions.first == .journal([.modelCancelled(.flash, ModelCancelled(reason: .superseded)), .done(RunDone(status: .ok, durationMs: 21))]))
    }

    @Test("cancel_pro: a Flash failure cancels Pro, done carries the failure")
    func cancelPro() {
        var machine = RunStateMachine(policy: .cancelPro)
        #expect(machine.handle(.timedOut(.flash, timeout), elapsedMs: 5_000) == [.journal([.modelTimeout(.flash, timeout)]), .cancel(.pro)])
        #expect(machine.handle(.stopped(.pro), elapsedMs: 5_001) == [
            .journal([.modelCancelled(.pro, ModelCancelled(reason: .siblingFailed)), .done(RunDone(status: .timeout, durationMs: 5_001))]), .finish,
        ])
    }

    /// How a run ends, in the statuses test.
    enum Ending: CaseIterable {
        case flashFailsProAnswers, proFailsAfterFlash, bothTimeOut, timeoutAndFailure, bothFail, clientGone
        case shutdownBeforeAnswers, shutdownAfterFlash
    }

    @Test("Statuses: partial, timeout, error, cancelled", arguments: [
        (Ending.flashFailsProAnswers, RunStatus.partial),
        (.proFailsAfterFlash, .partial),
        (.bothTimeOut, .timeout),
        (.timeoutAndFailure, .timeout),
        (.bothFail, .error),
        (.clientGone, .cancelled),
        (.shutdownBeforeAnswers, .cancelled),
        (.shutdownAfterFlash, .partial),
    ])
    func statuses(ending: Ending, expected: RunStatus) {
        var machine = RunStateMachine(policy: .continue)
        switch ending {
        case .flashFailsProAnswers:
            _ = machine.handle(.failed(.flash, failure), elapsedMs: 1)
            _ = machine.handle(.completed(.pro, proAnswer), elapsedMs: 2)
        case .proFailsAfterFlash:
            _ = machine.handle(.completed(.flash, flashAnswer), elapsedMs: 1)
            _ = machine.handle(.failed(.pro, failure), elapsedMs: 2)
        case .bothTimeOut:
            _ = machine.handle(.timedOut(.flash, timeout), elapsedMs: 1)
            _ = machine.handle(.timedOut(.pro, timeout), elapsedMs: 2)
        case .timeoutAndFailure:
            _ = machine.handle(.failed(.flash, failure), elapsedMs: 1)
            _ = machine.handle(.timedOut(.pro, timeout), elapsedMs: 2)
        case .bothFail:
            _ = machine.handle(.failed(.pro, failure), elapsedMs: 1)
            _ = machine.handle(.failed(.flash, failure), elapsedMs: 2)
        case .clientGone:
            #expect(machine.handle(.clientDisconnected, elapsedMs: 1).contains(.cancel(.pro)))
            _ = machine.handle(.stopped(.flash), elapsedMs: 2)
            _ = machine.handle(.stopped(.pro), elapsedMs: 2)
        case .shutdownBeforeAnswers:
            _ = machine.handle(.shutdown, elapsedMs: 1)
            _ = machine.handle(.stopped(.flash), elapsedMs: 2)
            _ = machine.handle(.stopped(.pro), elapsedMs: 2)
        case .shutdownAfterFlash:
            _ = machine.handle(.completed(.flash, flashAnswer), elapsedMs: 1)
            _ = machine.handle(.shutdown, elapsedMs: 1)
            _ = machine.handle(.stopped(.pro), elapsedMs: 2)
        }
        #expect(machine.isFinished)
        #expect(machine.status == expected)
    }

    @Test("Progress is journaled only while its model runs")
    func progress() {
        var machine = RunStateMachine(policy: .continue)
        let first = DomainEvent.firstToken(.flash, FirstToken(afterMs: 3))
        #expect(machine.handle(.progress(first), elapsedMs: 3) == [.journal([first])])
        // Pro's answer cancels Flash: what Flash still streams until it notices is not journaled.
        _ = machine.handle(.completed(.pro, proAnswer), elapsedMs: 4)
        #expect(machine.handle(.progress(first), elapsedMs: 5) == [])
    }
}
