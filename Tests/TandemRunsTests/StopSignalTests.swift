import Synchronization
import TandemJournal
import Testing

@testable import TandemRuns

@Suite("Stop signal", .timeLimit(.minutes(1)))
struct StopSignalTests {
    @Test("Fire wakes the waiters already waiting and every later one, and runs each action once")
    func fire() async {
        let signal = StopSignal()
        let actions = Mutex(0)
        signal.onFire { actions.withLock { $0 += 1 } }
        let early = Task { await signal.wait() }
        // Polling is the only way to see the waiter parked: it is a few scheduler turns away.
        while !signal.hasWaiters { await Task.yield() }
        signal.fire()
        signal.fire()
        await early.value
        await signal.wait()  // fired already: returns at once
        signal.onFire { actions.withLock { $0 += 10 } }  // fired already: runs at once
        #expect(signal.isFired)
        #expect(actions.withLock { $0 } == 11)
    }

    @Test("A waiter cancelled while it waits returns without the signal firing")
    func cancelledWhileWaiting() async {
        let signal = StopSignal()
        let waiter = Task { await signal.wait() }
        while !signal.hasWaiters { await Task.yield() }
        waiter.cancel()
        await waiter.value
        #expect(!signal.isFired)
        #expect(!signal.hasWaiters)
    }
}
