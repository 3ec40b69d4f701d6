import TandemDomain

/// The time-per-output-token histogram of one model (SPEC §10): fixed Prometheus buckets
/// 0.001·2^k s up to 4.096 s, a count and a sum; slower observations land in `+Inf` only.
struct TokenTimeHistogram: Sendable, Equatable {
    /// Upper bounds of the buckets, in seconds.
    static let bucketBounds: [Double] = (0...12).map { 0.001 * Double(1 << $0) }

    private(set) var buckets = [UInt64](repeating: 0, count: TokenTimeHistogram.bucketBounds.count)
    private(set) var count: UInt64 = 0
    private(set) var sumMicros: UInt64 = 0

    init() {}

    mutating func record(milliseconds: Double) {
        let seconds = max(0, milliseconds) / 1_000
        count = count.saturatingAdding(1)
        sumMicros = sumMicros.saturatingAdding(UInt64(saturating: max(0, milliseconds) * 1_000))
        if let index = Self.bucketBounds.firstIndex(where: { seconds <= $0 }) { buckets[index] = buckets[index].saturatingAdding(1) }
    }

    mutating func merge(_ other: TokenTimeHistogram) {
        for index in buckets.indices { buckets[index] = buckets[index].saturatingAdding(other.buckets[index]) }
        count = count.saturatingAdding(other.count)
        sumMicros = sumMicros.saturatingAdding(other.sumMicros)
    }

    func write(_ writer: inout CanonicalWriter) {
        writer.beginObject()
        writer.key("buckets")
        writer.beginArray()
        for value in buckets { writer.uint(value) }
        writer.endArray()
        writer.key("count")
        writer.uint(count)
        writer.key("sum_us")
        writer.uint(sumMicros)
        writer.endObject()
    }

    init?(_ fields: JSONFields?) {
        guard let fields else { return nil }
        count = fields.uint("count") ?? 0
        sumMicros = fields.uint("sum_us") ?? 0
        if let raw = fields.raw("buckets") {
            let values = raw.split { !(48...57).contains($0) }.compactMap { UInt64(String(decoding: $0, as: UTF8.self)) }
            for (index, value) in values.prefix(buckets.count).enumerated() { buckets[index] = value }
        }
    }
}
