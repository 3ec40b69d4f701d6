import Synchronization

/// A one-shot signal: once fired, every current and future waiter returns and every action runs.
final class StopSignal: Sendable {
    private struct State {
        var fired = false
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var actions: [@Sendable () -> Void] = []
        var nextID = 0
    }

    private let state = Mutex(State())

    /// Whether ``fire()`` has been called.
    var isFired: Bool { state.withLock { $0.fired } }

    func fire() {
        let (waiters, actions) = state.withLock { state -> ([CheckedContinuation<Void, Never>], [@Sendable () -> Void]) in
            guard !state.fired else { return ([], []) }
            state.fired = true
            defer {
                state.waiters.removeAll()
                state.actions.removeAll()
            }
            return (Array(state.waiters.values), state.actions)
        }
        for waiter in waiters { waiter.resume() }
        for action in actions { action() }
    }

    /// Runs `action` once when fired — at once if it already was. (No task waits for it.)
    func onFire(_ action: @escaping @Sendable () -> Void) {
        let firedAlready = state.withLock { state in
            if !state.fired { state.actions.append(action) }
            return state.fired
        }
        if firedAlready { action() }
    }

    /// Returns once fired, or when the calling task is cancelled.
    func wait() async {
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { state in
                    if state.fired || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume()
        }
    }
}
