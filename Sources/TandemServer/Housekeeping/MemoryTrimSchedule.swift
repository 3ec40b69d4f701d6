/// Decides when to hand freed heap memory back to the operating system: once the open streams
/// have fallen to at most half of their high-water mark since the last trim, and by at least
/// ``minimumDrop`` streams. A pure value, fed one count per housekeeping tick.
///
/// Why: glibc keeps what a load peak freed in its arenas (measured: 4,000 streams took RSS from
/// 39 MiB to 196 MiB; 20 s after they ended it was still 195 MiB, and `malloc_trim(0)` brought it
/// to 83 MiB). Trimming walks every arena under its lock, so it runs only after a real drop, not
/// on a timer.
struct MemoryTrimSchedule: Sendable {
    /// How many fewer open streams than the high-water mark make a trim worth its cost.
    let minimumDrop: Int
    /// The most streams open at once since the last trim.
    private(set) var highWaterMark = 0

    init(minimumDrop: Int) {
        self.minimumDrop = minimumDrop
    }

    /// Records the streams open now.
    /// - Returns: whether to trim now; if so, the high-water mark restarts from `openStreams`.
    mutating func observe(openStreams: Int) -> Bool {
        highWaterMark = max(highWaterMark, openStreams)
        guard highWaterMark - openStreams >= minimumDrop, openStreams <= highWaterMark / 2 else { return false }
        highWaterMark = openStreams
        return true
    }
}
