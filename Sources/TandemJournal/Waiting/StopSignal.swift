import Synchronization

/// A one-shot signal: once fired, every current and future waiter returns and every action runs.
/// (The runs' stops, the coordinator's drain, the fleet shipper's shutdown.)
package final class StopSignal: Sendable {
    private struct State {
        var fired = false
        var waiters = WaiterList<Void, Void>()
        var actions: [@Sendable () -> Void] = []
    }

    private let state = Mutex(State())

    package init() {}

    /// Whether ``fire()`` has been called.
    package var isFired: Bool { state.withLock { $0.fired } }

    /// Whether a task is parked in ``wait()`` (tests wait for it before they act).
    package var hasWaiters: Bool { state.withLock { !$0.waiters.isEmpty } }

    package func fire() {
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
    package func onFire(_ action: @escaping @Sendable () -> Void) {
        let firedAlready = state.withLock { state in
            if !state.fired { state.actions.append(action) }
            return state.fired
        }
        if firedAlready { action() }
    }

    /// Returns once fired, or when the calling task is cancelled.
    package func wait() async {
        await state.wait(in: \.waiters, tag: (), onCancel: ()) { $0.fired ? () : nil }
    }
}

extension StopSignal {
    /// `work`'s result, or `stopped` once this signal fires first (at once when it has fired):
    /// the loser is cancelled and joined, so nothing of `work` runs on after this returns.
    package func unlessFired<T: Sendable>(_ stopped: T, _ work: @escaping @Sendable () async -> T) async -> T {
        guard !isFired else { return stopped }
        return await withTaskGroup(of: T.self) { group in
            group.addTask { await work() }
            group.addTask {
                await self.wait()
                return stopped
            }
            let first = await group.next() ?? stopped
            group.cancelAll()
            return first
        }
    }
}
