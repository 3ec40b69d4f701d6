import Synchronization

/// Wakes readers that wait for the journal to grow past a seq (live followers of a run, the
/// projector), without polling. The writer publishes each new head after its commit.
package final class HeadSignal: Sendable {
    private struct State {
        var head: UInt64 = 0
        /// Tagged with the seq each waits to see passed.
        var waiters = WaiterList<UInt64, Void>()
    }

    private let state = Mutex(State())

    package init(head: UInt64) {
        state.withLock { $0.head = head }
    }

    /// The last published head.
    package var head: UInt64 { state.withLock { $0.head } }

    /// Tasks parked in ``wait(beyond:)`` (tests wait for a waiter to park before they publish).
    package var waiterCount: Int { state.withLock { $0.waiters.count(where: { _ in true }) } }

    /// Records a new head and wakes every waiter it satisfies.
    package func publish(_ head: UInt64) {
        state.withLock { state in
            state.head = max(state.head, head)
            let head = state.head
            return state.waiters.take { $0 < head }
        }.resume(returning: ())
    }

    /// Sets the head to `head` even when lower (the projections moved to a store that is further
    /// behind), waking the waiters it satisfies.
    package func reset(to head: UInt64) {
        state.withLock { $0.head = head }
        publish(head)
    }

    /// Returns once the head is beyond `seq`, or when the calling task is cancelled.
    package func wait(beyond seq: UInt64) async {
        await state.wait(in: \.waiters, tag: seq, onCancel: ()) { $0.head > seq ? () : nil }
    }

    /// Returns once the head is beyond `seq` or `timeout` has passed on `clock`, whichever is first.
    package func wait(beyond seq: UInt64, timeout: Duration, clock: some Clock<Duration>) async {
        await waitAtMost(timeout, clock: clock) { await self.wait(beyond: seq) }
    }
}

/// Runs `wait` until it returns or `timeout` passes on `clock`, whichever is first (then `wait`
/// is cancelled; it must return when cancelled).
func waitAtMost(_ timeout: Duration, clock: some Clock<Duration>, _ wait: @escaping @Sendable () async -> Void) async {
    await withTaskGroup(of: Void.self) { group in
        group.addTask { await wait() }
        group.addTask { try? await clock.sleep(for: timeout) }
        await group.next()
        group.cancelAll()
    }
}
