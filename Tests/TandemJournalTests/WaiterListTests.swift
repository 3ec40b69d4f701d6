import Synchronization
import Testing

import TandemJournal

/// A gate built on the primitive as its users build on it: waiters for a level, tagged with the
/// level each wants; ``parkedCount`` and ``waitForParked(_:)`` let a test know a waiter is really
/// in the list before it acts (no sleeping, no hoping).
private final class Gate: Sendable {
    private enum Waiting: Sendable {
        case level(Int)
        case parked(Int)
    }

    private struct State {
        var level = 0
        var waiters = WaiterList<Waiting, String>()

        var parkedCount: Int {
            waiters.count { if case .level = $0 { true } else { false } }
        }
    }

    private let state = Mutex(State())

    var parkedCount: Int { state.withLock { $0.parkedCount } }

    /// Returns "ready" once the level reaches `level`, "cancelled" when cancelled (or `nil` to
    /// ignore cancellation).
    func wait(for level: Int, onCancel: String? = "cancelled") async -> String {
        await state.wait(
            in: \.waiters, tag: .level(level), onCancel: onCancel,
            parked: { state in
                let parked = state.parkedCount
                return (state.waiters.take { if case .parked(let count) = $0 { count <= parked } else { false } }, "parked")
            },
            until: { $0.level >= level ? "ready" : nil }
        )
    }

    /// Returns once at least `count` tasks wait for a level (or when cancelled, as by the time limit).
    func waitForParked(_ count: Int) async {
        _ = await state.wait(in: \.waiters, tag: .parked(count), onCancel: "cancelled") { $0.parkedCount >= count ? "parked" : nil }
    }

    func raise(to level: Int) {
        state.withLock { state in
            state.level = level
            return state.waiters.take { if case .level(let wanted) = $0 { wanted <= level } else { false } }
        }.resume(returning: "ready")
    }
}

@Suite("Waiter list", .timeLimit(.minutes(1)))
struct WaiterListTests {
    @Test("Resumed before it registers: the waiter returns at once, without parking")
    func readyBeforeRegistration() async {
        let gate = Gate()
        gate.raise(to: 1)
        #expect(await gate.wait(for: 1) == "ready")
        #expect(gate.parkedCount == 0)
    }

    @Test("Cancelled before it registers: the waiter returns its cancellation value, without parking")
    func cancelledBeforeRegistration() async {
        let gate = Gate()
        let (started, start) = AsyncStream.makeStream(of: Void.self)
        let waiter = Task {
            // Held until it is cancelled, so the wait begins on a cancelled task.
            for await _ in started {}
            return await gate.wait(for: 1)
        }
        waiter.cancel()
        start.finish()
        #expect(await waiter.value == "cancelled")
        #expect(gate.parkedCount == 0)
    }

    @Test("Cancelled while it waits: the parked waiter is taken out and returns its cancellation value")
    func cancelledWhileWaiting() async {
        let gate = Gate()
        let waiter = Task { await gate.wait(for: 1) }
        await gate.waitForParked(1)
        waiter.cancel()
        #expect(await waiter.value == "cancelled")
        #expect(gate.parkedCount == 0)
        // A later wake finds nobody to resume a second time.
        gate.raise(to: 1)
    }

    @Test("Cancelled after it was resumed: the waiter keeps the waker's value, resumed exactly once")
    func cancelledAfterResume() async {
        let gate = Gate()
        let (proceed, release) = AsyncStream.makeStream(of: Void.self)
        let waiter = Task {
            let value = await gate.wait(for: 1)
            for await _ in proceed {}  // cancelled while held here, after the resume
            return value
        }
        await gate.waitForParked(1)
        gate.raise(to: 1)
        waiter.cancel()
        release.finish()
        #expect(await waiter.value == "ready")
        #expect(gate.parkedCount == 0)
    }

    @Test("A waiter that ignores cancellation waits for its waker")
    func ignoresCancellation() async {
        let gate = Gate()
        let waiter = Task { await gate.wait(for: 1, onCancel: nil) }
        await gate.waitForParked(1)
        waiter.cancel()
        #expect(gate.parkedCount == 1, "still waiting after the cancel")
        gate.raise(to: 1)
        #expect(await waiter.value == "ready")
    }

    @Test("A wake resumes exactly the waiters it lets go, each once, and leaves the others waiting")
    func wakesOnlyTheDue() async {
        let gate = Gate()
        let low = Task { await gate.wait(for: 1) }
        let high = Task { await gate.wait(for: 2) }
        await gate.waitForParked(2)
        gate.raise(to: 1)
        #expect(await low.value == "ready")
        #expect(gate.parkedCount == 1)
        gate.raise(to: 1)  // nobody new is due
        #expect(gate.parkedCount == 1)
        gate.raise(to: 2)
        #expect(await high.value == "ready")
        #expect(gate.parkedCount == 0)
    }

    @Test("Many waiters, some cancelled, racing a waker: every waiter returns exactly once")
    func race() async {
        for _ in 0..<20 {
            let gate = Gate()
            await withTaskGroup(of: String.self) { group in
                for index in 0..<50 {
                    group.addTask {
                        if index % 3 == 0 { withUnsafeCurrentTask { $0?.cancel() } }
                        return await gate.wait(for: 1)
                    }
                }
                group.addTask {
                    gate.raise(to: 1)
                    return "waker"
                }
                var returned = 0
                for await value in group where value != "waker" {
                    #expect(value == "ready" || value == "cancelled")
                    returned += 1
                }
                #expect(returned == 50)
            }
            #expect(gate.parkedCount == 0)
        }
    }
}
