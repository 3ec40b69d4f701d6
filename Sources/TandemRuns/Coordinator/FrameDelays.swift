import Foundation
import Synchronization
import TandemDomain

/// How long live frames wait between their journal commit and their write to the client (the
/// write-ahead path's cost, SPEC §10's benchmark): a log-scale histogram, four buckets per power of
/// two of microseconds (each bucket ≈ 19 % wide), shared by every stream of the process.
public final class FrameDelays: Sendable {
    private struct Histogram {
        static let bucketCount = 128
        var counts = [UInt64](repeating: 0, count: bucketCount)
        var total: UInt64 = 0
    }

    private let histogram = Mutex(Histogram())

    public init() {}

    /// Notes one write, `delay` after its commit.
    public func record(_ delay: Duration) {
        let micros = max(0, delay.milliseconds * 1_000)
        let index = Self.bucket(micros)
        histogram.withLock { histogram in
            histogram.counts[index] &+= 1
            histogram.total &+= 1
        }
    }

    /// Writes noted so far.
    public var count: UInt64 { histogram.withLock { $0.total } }

    /// The delay `percentile` (0–100) of the writes fall under (a bucket's upper bound); `nil`
    /// before the first write.
    public func percentile(_ percentile: Double) -> Duration? {
        let (counts, total) = histogram.withLock { ($0.counts, $0.total) }
        guard total > 0 else { return nil }
        let rank = max(1, UInt64((percentile / 100 * Double(total)).rounded(.up)))
        var seen: UInt64 = 0
        for (index, count) in counts.enumerated() {
            seen &+= count
            if seen >= rank { return .microseconds(Self.upperBoundMicros(index)) }
        }
        return .microseconds(Self.upperBoundMicros(counts.count - 1))
    }

    /// Bucket `index` of `micros`: 0 for under 1 µs, else ⌈4·log2(µs)⌉ + 1 (capped).
    static func bucket(_ micros: Double) -> Int {
        guard micros >= 1 else { return 0 }
        return min(Histogram.bucketCount - 1, Int((4 * log2(micros)).rounded(.up)) + 1)
    }

    /// The largest delay in microseconds bucket `index` holds.
    static func upperBoundMicros(_ index: Int) -> Double {
        index == 0 ? 1 : pow(2, Double(index - 1) / 4)
    }
}
