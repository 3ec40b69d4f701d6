import Synchronization
import TandemDomain
import TandemTestSupport
import Testing

@testable import TandemRuns

@Suite("Deadline scheduler", .timeLimit(.minutes(1)))
struct DeadlineSchedulerTests {
    @Test("Fires due deadlines in order on the injected clock, never a cancelled one, and wakes for an earlier one")
    func firesInOrder() async {
        let clock = ManualClock()
        let scheduler = DeadlineScheduler(clock: clock)
        let (fired, record) = AsyncStream.makeStream(of: Int.self)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await scheduler.run() }
            _ = scheduler.schedule(at: .seconds(10)) { record.yield(10) }
            let cancelled = scheduler.schedule(at: .seconds(5)) { record.yield(5) }
            scheduler.cancel(cancelled)
            await clock.waitForSleepers(1)  // asleep until 10 s (5 s was cancelled)
            // Earlier than what the loop sleeps until: it must wake and sleep until 2 s instead.
            _ = scheduler.schedule(at: .seconds(2)) { record.yield(2) }
            var order = fired.makeAsyncIterator()
            clock.advance(to: .seconds(2))
            #expect(await order.next() == 2)
            // An action may schedule again (a deadline that moved): due at once if already passed.
            _ = scheduler.schedule(at: .seconds(1)) { record.yield(1) }
            #expect(await order.next() == 1)
            clock.advance(to: .seconds(10))
            #expect(await order.next() == 10, "not 5: it was cancelled")
            scheduler.stop()
        }
    }

    @Test("Stop ends the loop even with deadlines pending; one that comes due as it stops never fires")
    func stops() async {
        let clock = ManualClock()
        let scheduler = DeadlineScheduler(clock: clock)
        let fired = Mutex(false)
        _ = scheduler.schedule(at: .seconds(60)) { fired.withLock { $0 = true } }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await scheduler.run() }
            await clock.waitForSleepers(1)
            scheduler.stop()
            // The loop, woken by the stop or by this (whichever it sees first), must not fire it.
            clock.advance(to: .seconds(60))
        }
        #expect(!fired.withLock { $0 }, "a deadline fired after stop")
    }

    @Test("Cancellation ends the loop too")
    func cancellationEnds() async {
        let clock = ManualClock()
        let scheduler = DeadlineScheduler(clock: clock)
        _ = scheduler.schedule(at: .seconds(60)) {}
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await scheduler.run() }
            await clock.waitForSleepers(1)
            group.cancelAll()
        }
    }
}
