import Logging
import Synchronization
import TandemDomain
import TandemRuns
@testable import TandemServer
import TandemTestSupport
import Testing

/// After a load peak glibc kept the memory the streams freed (the reliability soak: RSS stayed at
/// its peak 20 s after 4,000 streams ended; `malloc_trim(0)` gave most of it back). Before the fix
/// nothing ever trimmed.
@Suite("Memory housekeeping after a load peak", .timeLimit(.minutes(1)))
struct MemoryHousekeepingTests {
    @Test("The schedule trims once the open streams fall to half their high-water mark, by at least the minimum drop")
    func schedule() {
        var schedule = MemoryTrimSchedule(minimumDrop: 100)
        // 600 is not yet half of 1,000; after the trim at 400 the mark restarts there: 300 is not
        // half of it, 150 is (and 250 fewer).
        let trims = [1_000, 600, 400, 300, 150].map { schedule.observe(openStreams: $0) }
        #expect(trims == [false, false, true, false, true])
        #expect(schedule.highWaterMark == 150)
    }

    @Test("Small swings never trim: the drop must reach the minimum")
    func smallSwings() {
        var schedule = MemoryTrimSchedule(minimumDrop: 256)
        let trims = [10, 0, 200, 0, 255, 0, 300, 0].map { schedule.observe(openStreams: $0) }
        #expect(trims == [false, false, false, false, false, false, false, true])
    }

    @Test("The ping ticker reports its open streams each tick; they are gone once the streams end, and the drop trims once")
    func tickerDrivesTrim() async throws {
        let clock = ManualClock()
        let trims = Mutex(0)
        let seen = Mutex<[Int]>([])
        let housekeeper = MemoryHousekeeper(minimumDrop: 256, logger: Logger(label: "test"), trim: { trims.withLock { $0 += 1 } })
        let ticker = PingTicker(interval: .seconds(5), clock: clock) { open in
            seen.withLock { $0.append(open) }
            housekeeper.observe(openStreams: open)
        }
        let running = Task { try await ticker.run() }
        var streams: [(AsyncStream<StreamItem>, AsyncStream<StreamItem>.Continuation, PingTicker.Registration)] = []
        for _ in 0..<1_000 {
            let (stream, sink) = AsyncStream.makeStream(of: StreamItem.self)
            streams.append((stream, sink, ticker.register(sink)))
        }
        await clock.waitForSleepers(1)
        clock.advance(by: .seconds(5))
        await clock.waitForSleepers(1)
        // 990 streams end: 900 unregister as a response does, 90 only finish their sink.
        for (index, (_, sink, registration)) in streams.enumerated().prefix(990) {
            if index < 900 { ticker.unregister(registration) } else { sink.finish() }
        }
        clock.advance(by: .seconds(5))
        await clock.waitForSleepers(1)
        for (_, sink, registration) in streams.suffix(10) {
            sink.finish()
            ticker.unregister(registration)
        }
        clock.advance(by: .seconds(5))
        await clock.waitForSleepers(1)
        #expect(seen.withLock { $0 } == [1_000, 10, 0], "every ended stream leaves the ticker")
        #expect(trims.withLock { $0 } == 1)
        running.cancel()
        _ = try? await running.value
    }
}
