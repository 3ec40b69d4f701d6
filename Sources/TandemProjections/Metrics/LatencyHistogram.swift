import TandemDomain
import Histogram

/// Latencies of one model: an HDR histogram (microseconds, 3 significant digits) for exact
/// percentiles, the fixed Prometheus buckets of SPEC §4 (0.01·2^k s up to 81.92 s), and exact
/// count and sum.
///
/// It keeps only the HDR histogram's non-empty buckets (its stored form lists them, so restoring
/// and re-encoding gives the same bytes: the live projection and a rebuild agree to the byte). The
/// HDR histogram itself — tens of thousands of counters — is built from them only to read
/// percentiles, so that recording, merging and storing cost the non-empty buckets alone (the live
/// projector makes a small histogram of what each commit adds).
struct LatencyHistogram: Equatable {
    /// Upper bounds of the Prometheus buckets, in seconds.
    static let bucketBounds: [Double] = (0...13).map { 0.01 * Double(1 << $0) }

    /// An empty HDR histogram of the shape used: its bucket arithmetic places values.
    private static let shape = Histogram<UInt64>(highestTrackableValue: LatencyHistogram.highestMicros, numberOfSignificantValueDigits: .three)
    /// Lowest equivalent value of each non-empty HDR bucket, ascending, and its count: a new
    /// bucket is inserted in place (rare once the distribution has filled in), so encoding is a walk.
    private var bucketValues: [UInt64] = []
    private var bucketCounts: [UInt64] = []
    private static let highestMicros: UInt64 = 3_600_000_000
    private(set) var buckets = [UInt64](repeating: 0, count: LatencyHistogram.bucketBounds.count)
    private(set) var count: UInt64 = 0
    /// Sum of the recorded values in microseconds.
    private(set) var sumMicros: UInt64 = 0

    static func == (lhs: LatencyHistogram, rhs: LatencyHistogram) -> Bool {
        lhs.bucketValues == rhs.bucketValues && lhs.bucketCounts == rhs.bucketCounts && lhs.buckets == rhs.buckets && lhs.count == rhs.count && lhs.sumMicros == rhs.sumMicros
    }

    mutating func record(milliseconds: Double) {
        // A journal entry may say anything (1e300, or -1e400 read as -infinity): never trap.
        let micros = UInt64(saturating: (milliseconds * 1000).rounded())
        addToHDRBucket(min(micros, Self.highestMicros), count: 1)
        count = count.saturatingAdding(1)
        sumMicros = sumMicros.saturatingAdding(micros)
        let seconds = Double(micros) / 1e6
        if let index = Self.bucketBounds.firstIndex(where: { seconds <= $0 }) { buckets[index] = buckets[index].saturatingAdding(1) }
    }

    private mutating func addToHDRBucket(_ micros: UInt64, count: UInt64) {
        addToBucket(Self.shape.lowestEquivalentForValue(micros), count)
    }

    /// Adds `other`'s recorded values.
    mutating func merge(_ other: LatencyHistogram) {
        for (value, count) in zip(other.bucketValues, other.bucketCounts) { addToBucket(value, count) }
        for index in buckets.indices { buckets[index] = buckets[index].saturatingAdding(other.buckets[index]) }
        count = count.saturatingAdding(other.count)
        sumMicros = sumMicros.saturatingAdding(other.sumMicros)
    }

    /// The values at `percentiles` (each 0–100) in milliseconds, read from the HDR histogram of
    /// the recorded buckets.
    func percentiles(_ percentiles: [Double]) -> [Double] {
        guard count > 0 else { return percentiles.map { _ in 0 } }
        var hdr = Self.shape
        for (value, count) in zip(bucketValues, bucketCounts) { _ = hdr.record(value, count: count) }
        return percentiles.map { Double(hdr.valueAtPercentile($0)) / 1000 }
    }

    var meanMilliseconds: Double { count == 0 ? 0 : Double(sumMicros) / Double(count) / 1000 }
    /// The highest value of the highest non-empty bucket (what the HDR histogram calls its max).
    var maxMilliseconds: Double { bucketValues.last.map { Double(Self.shape.highestEquivalentForValue($0)) / 1000 } ?? 0 }

    private mutating func addToBucket(_ value: UInt64, _ count: UInt64) {
        var low = 0
        var high = bucketValues.count
        while low < high {
            let middle = (low + high) / 2
            if bucketValues[middle] < value { low = middle + 1 } else { high = middle }
        }
        if low < bucketValues.count, bucketValues[low] == value {
            bucketCounts[low] = bucketCounts[low].saturatingAdding(count)
        } else {
            bucketValues.insert(value, at: low)
            bucketCounts.insert(count, at: low)
        }
    }

    func write(_ writer: inout CanonicalWriter) {
        writer.beginObject()
        writer.key("buckets")
        writer.beginArray()
        for value in buckets { writer.uint(value) }
        writer.endArray()
        writer.key("count")
        writer.uint(count)
        writer.key("hdr")
        writer.beginArray()
        for (value, count) in zip(bucketValues, bucketCounts) {
            writer.beginArray()
            writer.uint(value)
            writer.uint(count)
            writer.endArray()
        }
        writer.endArray()
        writer.key("sum_us")
        writer.uint(sumMicros)
        writer.endObject()
    }

    init() {}

    init?(_ fields: JSONFields?) {
        guard let fields else { return nil }
        count = fields.uint("count") ?? 0
        sumMicros = fields.uint("sum_us") ?? 0
        if let raw = fields.raw("buckets") {
            let values = Self.integers(raw)
            for (index, value) in values.prefix(buckets.count).enumerated() { buckets[index] = value }
        }
        if let raw = fields.raw("hdr") {
            let flat = Self.integers(raw)
            var index = 0
            while index + 1 < flat.count {
                addToHDRBucket(min(flat[index], Self.highestMicros), count: flat[index + 1])
                index += 2
            }
        }
    }

    /// Every unsigned integer in a JSON array (nested arrays flattened).
    private static func integers(_ raw: ArraySlice<UInt8>) -> [UInt64] {
        var values: [UInt64] = []
        var current: UInt64 = 0
        var inNumber = false
        for byte in raw {
            if byte >= 48 && byte <= 57 {
                current = current &* 10 &+ UInt64(byte - 48)
                inNumber = true
            } else if inNumber {
                values.append(current)
                current = 0
                inNumber = false
            }
        }
        if inNumber { values.append(current) }
        return values
    }
}
