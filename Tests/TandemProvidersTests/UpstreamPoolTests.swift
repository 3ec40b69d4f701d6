import AsyncHTTPClient
import TandemDomain
import TandemProviders
import TandemHTTPTestSupport
import TandemTestSupport
import Testing

/// The upstream connection pool is sized for the runs tandem admits. Before the fix `serve` built
/// its `HTTPClient` with AsyncHTTPClient's default pool, 8 HTTP/1.1 connections per host: the
/// ninth concurrent call waited inside tandem for a connection, eating into its deadline.
@Suite("Upstream connection pool", .timeLimit(.minutes(1)))
struct UpstreamPoolTests {
    @Test("16 concurrent runs (32 calls) against an upstream whose answers take 800 ms are all in flight at once")
    func sixteenRunsOverlap() async throws {
        let upstream = try await FakeUpstream.start()
        upstream.script([], fallback: .delayHeaders(.milliseconds(800), chunks: ["ok"]))
        let client = UpstreamHTTPClient.make()
        let clock = ManualClock()
        let provider = HTTPModelProvider.gemini(
            apiKey: "k", baseURL: upstream.baseURL, client: client,
            breakers: [.flash: CircuitBreaker(clock: clock), .pro: CircuitBreaker(clock: clock)], clock: clock
        )
        try await withThrowingTaskGroup(of: Void.self) { group in
            for run in 0..<16 {
                for role in ModelRole.allCases {
                    group.addTask {
                        let request = ModelRequest(
                            role: role, model: "m-\(role)", query: "q\(run)", context: nil, settings: role == .flash ? .flash : .pro,
                            runID: "run-\(run)", deadline: nil
                        )
                        let response = try await provider.generate(request, observer: RecordingObserver())
                        #expect(response.content == "ok")
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(upstream.requests.count == 32)
        #expect(upstream.maxConcurrentRequests >= 16, "calls queued for a connection inside tandem")
        try await client.shutdown()
        await upstream.stop()
    }
}
