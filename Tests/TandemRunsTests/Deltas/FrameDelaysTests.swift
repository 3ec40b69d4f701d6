import Testing

@testable import TandemRuns

@Suite("Commit-to-frame delays")
struct FrameDelaysTests {
    @Test("Percentiles fall on the bucket holding the rank, within a bucket's width (≈ 19 %)")
    func percentiles() {
        let delays = FrameDelays()
        #expect(delays.percentile(50) == nil)
        for _ in 0..<98 { delays.record(.microseconds(300)) }
        delays.record(.milliseconds(4))
        delays.record(.milliseconds(20))
        #expect(delays.count == 100)
        let p50 = delays.percentile(50)
        #expect(p50.map { $0 >= .microseconds(300) && $0 < .microseconds(360) } == true)
        let p99 = delays.percentile(99)
        #expect(p99.map { $0 >= .milliseconds(4) && $0 < .microseconds(4_800) } == true)
        #expect(delays.percentile(100).map { $0 >= .milliseconds(20) } == true)
        delays.record(.zero)
        #expect(delays.percentile(0.5) == .microseconds(1))
    }
}
