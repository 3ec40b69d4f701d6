import Histogram
@testable import TandemProjections
import Testing

/// The latency histogram keeps only non-empty HDR buckets; its percentiles must be the HDR histogram's.
@Suite("Latency histogram")
struct LatencyHistogramTests {
    @Test("Percentiles and max equal those of an HDR histogram of the same values, recorded, merged or restored")
    func percentilesMatchHDR() throws {
        var reference = Histogram<UInt64>(highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)
        var whole = LatencyHistogram()
        var firstHalf = LatencyHistogram()
        var secondHalf = LatencyHistogram()
        // Spread over five decades, with repeats, in no order.
        var random: UInt64 = 0x9E37_79B9
        for index in 0..<5_000 {
            random = random &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let milliseconds = Double(random >> 40) / Double(1 << 24) * pow10(Int(random % 5)) + 0.05
            let micros = UInt64((milliseconds * 1000).rounded())
            _ = reference.record(micros)
            whole.record(milliseconds: milliseconds)
            if index % 2 == 0 { firstHalf.record(milliseconds: milliseconds) } else { secondHalf.record(milliseconds: milliseconds) }
        }
        var merged = firstHalf
        merged.merge(secondHalf)
        var metrics = MetricsState()
        metrics.latency["pro"] = merged
        let restored = try #require(MetricsState(json: metrics.json)?.latency["pro"])
        let percentiles: [Double] = [50, 90, 95, 99, 99.9]
        let expected = percentiles.map { Double(reference.valueAtPercentile($0)) / 1000 }
        for histogram in [whole, merged, restored] {
            #expect(histogram.percentiles(percentiles) == expected)
            #expect(histogram.maxMilliseconds == Double(reference.max) / 1000)
            #expect(histogram.count == reference.totalCount)
        }
        #expect(whole == merged && merged == restored)
    }

    private func pow10(_ exponent: Int) -> Double {
        (0..<exponent).reduce(1) { value, _ in value * 10 }
    }
}
