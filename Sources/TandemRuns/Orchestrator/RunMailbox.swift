import Synchronization
import TandemJournal

/// What happened to a run, waiting for the orchestrator: model progress and outcomes, the client
/// leaving, shutdown. Unlike a stream of single inputs, it hands over everything that arrived
/// while the orchestrator was busy — so what happened during one journal commit is journaled
/// together in the next, and a run needs few sequential commits.
final class RunMailbox: Sendable {
    private struct State {
        var pending: [RunStateMachine.Input] = []
        /// The orchestrator, when it waits (one task reads the mailbox).
        var reader = WaiterList<Void, [RunStateMachine.Input]?>()
        var finished = false
    }

    private let state = Mutex(State())

    /// Whether the reader is parked in ``next()`` (tests wait for it before they cancel it).
    var readerIsWaiting: Bool { state.withLock { !$0.reader.isEmpty } }

    /// Adds `input`; dropped once the mailbox is finished.
    func yield(_ input: RunStateMachine.Input) {
        let handOver = state.withLock { state -> (Wakeups<Void, [RunStateMachine.Input]?>, [RunStateMachine.Input])? in
            guard !state.finished else { return nil }
            state.pending.append(input)
            guard !state.reader.isEmpty else { return nil }
            defer { state.pending = [] }
            return (state.reader.takeAll(), state.pending)
        }
        if let (reader, batch) = handOver { reader.resume(returning: batch) }
    }

    /// Ends the mailbox: ``next()`` returns `nil` once what is pending was taken.
    func finish() {
        state.withLock { state in
            state.finished = true
            return state.reader.takeAll()
        }.resume(returning: nil)
    }

    /// Everything pending, in arrival order; waits while nothing is. `nil` when finished and
    /// empty, or when the calling task is cancelled.
    func next() async -> [RunStateMachine.Input]? {
        await state.wait(in: \.reader, tag: (), onCancel: .some(nil)) { state in
            if !state.pending.isEmpty {
                defer { state.pending = [] }
                return .some(state.pending)
            }
            return state.finished ? .some(nil) : nil
        }
    }
}
