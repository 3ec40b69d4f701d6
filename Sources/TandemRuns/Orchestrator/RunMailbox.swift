import Synchronization

/// What happened to a run, waiting for the orchestrator: model progress and outcomes, the client
/// leaving, shutdown. Unlike a stream of single inputs, it hands over everything that arrived
/// while the orchestrator was busy — so what happened during one journal commit is journaled
/// together in the next, and a run needs few sequential commits.
final class RunMailbox: Sendable {
    private struct State {
        var pending: [RunStateMachine.Input] = []
        var waiter: CheckedContinuation<[RunStateMachine.Input]?, Never>?
        var finished = false
    }

    private let state = Mutex(State())

    /// Adds `input`; dropped once the mailbox is finished.
    func yield(_ input: RunStateMachine.Input) {
        let handOver = state.withLock { state -> (CheckedContinuation<[RunStateMachine.Input]?, Never>, [RunStateMachine.Input])? in
            guard !state.finished else { return nil }
            state.pending.append(input)
            guard let waiter = state.waiter else { return nil }
            state.waiter = nil
            defer { state.pending = [] }
            return (waiter, state.pending)
        }
        if let (waiter, batch) = handOver { waiter.resume(returning: batch) }
    }

    /// Ends the mailbox: ``next()`` returns `nil` once what is pending was taken.
    func finish() {
        let waiter = state.withLock { state in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// Everything pending, in arrival order; waits while nothing is. `nil` when finished and
    /// empty, or when the calling task is cancelled.
    func next() async -> [RunStateMachine.Input]? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let ready = state.withLock { state -> [RunStateMachine.Input]?? in
                    if !state.pending.isEmpty {
                        defer { state.pending = [] }
                        return .some(state.pending)
                    }
                    if state.finished || Task.isCancelled { return .some(nil) }
                    state.waiter = continuation
                    return .none
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: nil)
        }
    }
}
