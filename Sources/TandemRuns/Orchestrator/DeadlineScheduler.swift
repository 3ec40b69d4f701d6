import HeapModule
import Synchronization
import TandemDomain
import TandemJournal

/// One timer for the deadlines of every model call: a heap of deadlines and a loop that sleeps
/// until the earliest one still pending, instead of a watchdog task and a timer per call.
///
/// Calls almost always end long before their deadlines, so a cancelled deadline is only marked
/// (and skipped when it reaches the top); the loop then wakes about once per deadline length,
/// not once per call. A deadline earlier than the one the loop sleeps until wakes it.
/// ``run()`` runs in the ``RunCoordinator``'s service task, until ``stop()``.
final class DeadlineScheduler: Sendable {
    /// A scheduled action; hand it to ``cancel(_:)``.
    struct Token: Sendable {
        fileprivate let id: UInt64
    }

    private struct Entry: Comparable {
        var at: Duration
        var id: UInt64

        static func < (lhs: Entry, rhs: Entry) -> Bool { (lhs.at, lhs.id) < (rhs.at, rhs.id) }
    }

    private struct State {
        var nextID: UInt64 = 0
        var actions: [UInt64: @Sendable () -> Void] = [:]
        var queue = Heap<Entry>()
        /// The deadline the loop sleeps until; `nil` while it waits for a first deadline.
        var sleepingUntil: Duration?
        var wakeGeneration: UInt64 = 0
        var stopped = false

        /// Drops cancelled entries from the top, so that the top is the earliest pending deadline.
        mutating func dropCancelledTop() {
            while let top = queue.min, actions[top.id] == nil { _ = queue.popMin() }
        }
    }

    private let clock: any MonotonicClock
    private let state = Mutex(State())
    private let wakes = HeadSignal(head: 0)

    init(clock: any MonotonicClock) {
        self.clock = clock
    }

    /// Runs `action` once `clock.elapsed >= deadline`, unless cancelled first.
    func schedule(at deadline: Duration, _ action: @escaping @Sendable () -> Void) -> Token {
        let (token, wake) = state.withLock { state -> (Token, UInt64?) in
            state.nextID += 1
            state.actions[state.nextID] = action
            state.queue.insert(Entry(at: deadline, id: state.nextID))
            // Cancelled entries wait for the top; rebuild when they outnumber the pending ones.
            if state.queue.count > 2 * state.actions.count + 1_024 {
                let actions = state.actions
                state.queue = Heap(state.queue.unordered.filter { actions[$0.id] != nil })
            }
            guard state.sleepingUntil.map({ deadline < $0 }) ?? true else { return (Token(id: state.nextID), nil) }
            state.wakeGeneration += 1
            return (Token(id: state.nextID), state.wakeGeneration)
        }
        if let wake { wakes.publish(wake) }
        return token
    }

    func cancel(_ token: Token) {
        _ = state.withLock { $0.actions.removeValue(forKey: token.id) }
    }

    /// Ends ``run()``; deadlines still pending never fire.
    func stop() {
        let wake = state.withLock { state -> UInt64 in
            state.stopped = true
            state.wakeGeneration += 1
            return state.wakeGeneration
        }
        wakes.publish(wake)
    }

    /// Fires deadlines as they come, until ``stop()`` or cancellation.
    func run() async {
        while !Task.isCancelled {
            let now = clock.elapsed
            let (due, next, generation, stopped) = state.withLock { state in
                var due: [@Sendable () -> Void] = []
                while let top = state.queue.min, top.at <= now {
                    _ = state.queue.popMin()
                    if let action = state.actions.removeValue(forKey: top.id) { due.append(action) }
                }
                state.dropCancelledTop()
                state.sleepingUntil = state.queue.min?.at
                return (due, state.sleepingUntil, state.wakeGeneration, state.stopped)
            }
            if stopped { return }
            for action in due { action() }
            await withTaskGroup(of: Void.self) { group in
                if let next { group.addTask { try? await self.clock.sleep(untilElapsed: next) } }
                group.addTask { await self.wakes.wait(beyond: generation) }
                await group.next()
                group.cancelAll()
            }
        }
    }
}
