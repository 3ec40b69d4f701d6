import AsyncHTTPClient
import TandemDomain
import TandemProviders
import TandemHTTPTestSupport
import TandemTestSupport
import Testing

/// Numbers an upstream sends are checked at the boundary: token counts are clamped to
/// `0...TokenUsage.maximumCount`, a `Retry-After` of any size never traps.
@Suite("Upstream numbers are clamped at the provider boundary", .serialized, .timeLimit(.minutes(1)))
struct UpstreamNumbersTests {
    private func request(deadline: Duration? = nil) -> ModelRequest {
        ModelRequest(role: .flash, model: "m", query: "Why?", context: nil, settings: .flash, runID: "r1", deadline: deadline)
    }

    private func breakers(_ clock: any MonotonicClock) -> [ModelRole: CircuitBreaker] {
        [.flash: CircuitBreaker(clock: clock), .pro: CircuitBreaker(clock: clock)]
    }

    @Test("Token counts out of range are clamped (Gemini usageMetadata, OpenAI usage)", arguments: [
        ("9223372036854775807", "9223372036854775807", TokenUsage.maximumCount, TokenUsage.maximumCount),
        ("-5", "1e30", 0, TokenUsage.maximumCount),
        ("12", "3.0", 12, 3),
    ])
    func clampedUsage(input: String, output: String, expectedInput: Int, expectedOutput: Int) async throws {
        let upstream = try await FakeUpstream.start()
        let clock = ManualClock()
        let providers = [
            HTTPModelProvider.gemini(apiKey: "k", baseURL: upstream.baseURL, client: .shared, breakers: breakers(clock), clock: clock),
            HTTPModelProvider.openAI(baseURL: upstream.baseURL, apiKey: nil, client: .shared, breakers: breakers(clock), clock: clock),
        ]
        for provider in providers {
            upstream.script([.answerWithUsage(chunks: ["a", "b"], inputTokens: input, outputTokens: output)])
            let response = try await provider.generate(request(), observer: RecordingObserver())
            #expect(response.usage == TokenUsage(inputTokens: expectedInput, outputTokens: expectedOutput), "\(provider.name)")
        }
        await upstream.stop()
    }

    @Test("A Retry-After of Int.max seconds gives up at the deadline instead of trapping")
    func hugeRetryAfter() async throws {
        let upstream = try await FakeUpstream.start()
        upstream.script([.status(429, retryAfter: Int.max)])
        let clock = ManualClock()
        let provider = HTTPModelProvider.gemini(apiKey: "k", baseURL: upstream.baseURL, client: .shared, breakers: breakers(clock), clock: clock)
        await #expect {
            _ = try await provider.generate(request(deadline: .seconds(5)), observer: RecordingObserver())
        } throws: { ($0 as? ProviderError)?.errorClass == "upstream_rate_limited" }
        await upstream.stop()
    }
}
