import Synchronization

/// Wakes readers that wait for the journal to grow past a seq (live followers of a run, the
/// projector), without polling. The writer publishes each new head after its commit.
package final class HeadSignal: Sendable {
    private struct Waiter {
        var beyond: UInt64
        var continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var head: UInt64 = 0
        var nextID = 0
        var waiters: [Int: Waiter] = [:]
        var cancelled: Set<Int> = []
    }

    private let state = Mutex(State())

    package init(head: UInt64) {
        state.withLock { $0.head = head }
    }

    /// The last published head.
    package var head: UInt64 { state.withLock { $0.head } }

    /// Records a new head and wakes every waiter it satisfies.
    package func publish(_ head: UInt64) {
        let ready: [CheckedContinuation<Void, Never>] = state.withLock { state in
            state.head = max(state.head, head)
            var ready: [CheckedContinuation<Void, Never>] = []
            for (id, waiter) in state.waiters where waiter.beyond < state.head {
                ready.append(waiter.continuation)
                state.waiters[id] = nil
            }
            return ready
        }
        for continuation in ready { continuation.resume() }
    }

    /// Sets the head to `head` even when lower (the projections moved to a store that is further
    /// behind), waking the waiters it satisfies.
    package func reset(to head: UInt64) {
        state.withLock { $0.head = head }
        publish(head)
    }

    /// Returns once the head is beyond `seq`, or when the calling task is cancelled.
    package func wait(beyond seq: UInt64) async {
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state in
                    if state.head > seq || state.cancelled.remove(id) != nil { return true }
                    state.waiters[id] = Waiter(beyond: seq, continuation: continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                if let waiter = state.waiters.removeValue(forKey: id) { return Optional(waiter) }
                state.cancelled.insert(id)
                return nil
            }
            waiter?.continuation.resume()
        }
        state.withLock { _ = $0.cancelled.remove(id) }
    }

    /// Returns once the head is beyond `seq` or `timeout` has passed, whichever is first.
    package func wait(beyond seq: UInt64, timeout: Duration) async {
        await waitAtMost(timeout) { await self.wait(beyond: seq) }
    }
}

/// Runs `wait` until it returns or `timeout` passes, whichever is first (then `wait` is cancelled;
/// it must return when cancelled).
func waitAtMost(_ timeout: Duration, _ wait: @escaping @Sendable () async -> Void) async {
    await withTaskGroup(of: Void.self) { group in
        group.addTask { await wait() }
        group.addTask { try? await Task.sleep(for: timeout) }
        await group.next()
        group.cancelAll()
    }
}
