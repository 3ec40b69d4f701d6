#if canImport(Glibc)
import Glibc
#endif
import Logging
import Synchronization

/// Returns freed heap memory to the operating system after a load peak (see
/// ``MemoryTrimSchedule`` for when and why). Fed the open streams' count by the ``PingTicker``'s
/// tick, which is already a low-frequency timer over every open stream, so no other timer sleeps
/// on the clock.
final class MemoryHousekeeper: Sendable {
    private let schedule: Mutex<MemoryTrimSchedule>
    private let trim: @Sendable () -> Void
    private let logger: Logger

    /// - Parameters:
    ///   - minimumDrop: see ``MemoryTrimSchedule/minimumDrop``.
    ///   - trim: returns freed memory to the system; `malloc_trim(0)` on glibc.
    init(minimumDrop: Int = 256, logger: Logger, trim: @escaping @Sendable () -> Void = MemoryHousekeeper.trimHeap) {
        schedule = Mutex(MemoryTrimSchedule(minimumDrop: minimumDrop))
        self.logger = logger
        self.trim = trim
    }

    /// Records the streams open now, and trims when the schedule says so.
    func observe(openStreams: Int) {
        let peak = schedule.withLock { schedule -> Int? in
            let peak = schedule.highWaterMark
            return schedule.observe(openStreams: openStreams) ? peak : nil
        }
        guard let peak else { return }
        trim()
        logger.debug("returned freed heap memory to the system", metadata: ["open_streams": "\(openStreams)", "peak_streams": "\(peak)"])
    }

    /// Releases the free memory of every glibc arena (nothing where there is no glibc).
    static let trimHeap: @Sendable () -> Void = {
        #if canImport(Glibc)
        // Swift's Glibc module does not include <malloc.h>; the symbol is glibc's own, looked up
        // in the process (RTLD_DEFAULT is the null handle).
        guard let symbol = dlsym(nil, "malloc_trim") else { return }
        typealias MallocTrim = @convention(c) (Int) -> Int32
        _ = unsafeBitCast(symbol, to: MallocTrim.self)(0)
        #endif
    }
}
