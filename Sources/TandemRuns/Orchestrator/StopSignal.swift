import Synchronization
import TandemJournal

/// A one-shot signal: once fired, every current and future waiter returns and every action runs.
final class StopSignal: Sendable {
    private struct State {
        var fired = false
        var waiters = WaiterList<Void, Void>()
        var actions: [@Sendable () -> Void] = []
    }

    private let state = Mutex(State())

    /// Whether ``fire()`` has been called.
    var isFired: Bool { state.withLock { $0.fired } }

    /// Whether a task is parked in ``wait()`` (tests wait for it before they act).
    var hasWaiters: Bool { state.withLock { !$0.waiters.isEmpty } }

    func fire() {
        let (waiters, actions) = state.withLock { state -> (Wakeups<Void, Void>, [@Sendable () -> Void]) in
            guard !state.fired else { return (Wakeups(), []) }
            state.fired = true
            defer { state.actions.removeAll() }
            return (state.waiters.takeAll(), state.actions)
        }
        waiters.resume(returning: ())
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
        await state.wait(in: \.waiters, tag: (), onCancel: ()) { $0.fired ? () : nil }
    }
}
