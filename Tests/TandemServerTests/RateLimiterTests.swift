import TandemDomain
import TandemTestSupport
import Testing

@testable import TandemServer

/// The rate limiter's table stays bounded however many clients appear (issue 11, item 14).
@Suite("Rate limiter")
struct RateLimiterTests {
    @Test("200,000 distinct clients: the table stays within two generations; a recently seen client keeps its bucket")
    func tableIsBounded() {
        let clock = ManualClock()
        let limiter = RateLimiter(perMinute: 1, clock: clock, capacity: 1_000)
        #expect(limiter.acquire("regular") == nil)
        for client in 0..<200_000 {
            _ = limiter.acquire("spoofed-\(client)")
            if client % 500 == 0 {
                // Seen again within every generation: its used-up bucket is remembered.
                #expect(limiter.acquire("regular") != nil)
            }
        }
        #expect(limiter.trackedClients <= 2_000)
    }

    @Test("Tokens come back at the configured rate on the injected clock")
    func refill() {
        let clock = ManualClock()
        let limiter = RateLimiter(perMinute: 2, clock: clock)
        #expect(limiter.acquire("c") == nil)
        #expect(limiter.acquire("c") == nil)
        #expect(limiter.acquire("c") == 30)
        clock.advance(by: .seconds(30))
        #expect(limiter.acquire("c") == nil)
    }
}
