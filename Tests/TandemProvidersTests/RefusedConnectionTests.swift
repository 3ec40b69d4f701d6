import AsyncHTTPClient
import Synchronization
import TandemDomain
import TandemProviders
import TandemTestSupport
import Testing

/// An upstream that refuses connections. Before the fix the shared `HTTPClient` kept retrying the
/// connect inside its pool (AsyncHTTPClient's `retryConnectionEstablishment`) for its whole 10 s
/// connect timeout, so a run with a shorter deadline only ever journaled `*_timeout`, and tandem's
/// own retry policy never saw the failure.
@Suite("Refused upstream connections", .timeLimit(.minutes(1)))
struct RefusedConnectionTests {
    @Test("A refused connection fails each attempt at once as upstream_connection, retried by the policy, and the last error names it")
    func refusedConnectionIsRetriedAndNamed() async throws {
        let refusing = try LoopbackSocket(.refusing)
        let client = UpstreamHTTPClient.make()
        let clock = ManualClock()
        let provider = HTTPModelProvider.gemini(
            apiKey: "k", baseURL: "http://127.0.0.1:\(refusing.port)", client: client,
            retry: RetryPolicy(maxAttempts: 3, baseDelay: .seconds(1), random: { 0.5 }),
            breakers: [.flash: CircuitBreaker(clock: clock), .pro: CircuitBreaker(clock: clock)], clock: clock
        )
        let observer = RecordingObserver()
        let request = ModelRequest(
            role: .flash, model: "gemini-2.5-flash", query: "Why?", context: nil, settings: .flash, runID: "r1", deadline: .seconds(60)
        )
        let call = Task { try await provider.generate(request, observer: observer) }
        await clock.waitForSleepers(1)
        clock.advance(by: .milliseconds(500))  // first backoff: 1 s ceiling x 0.5
        await clock.waitForSleepers(1)
        clock.advance(by: .seconds(1))  // second backoff: 2 s ceiling x 0.5
        let result = await call.result

        let error = try #require(result.failure as? ProviderError)
        #expect(error.errorClass == "upstream_connection")
        #expect(error.retryable)
        // Before the fix each attempt ended in the pool's connect timeout, which names no refusal
        // (tests assert behaviour, not wall-clock time).
        #expect(error.message.lowercased().contains("refused"), "the error names the cause: \(error.message)")
        #expect(observer.attempts.withLock { $0 } == [1, 2, 3])
        #expect(observer.retries.withLock { $0.map(\.errorClass) } == ["upstream_connection", "upstream_connection"])
        try await client.shutdown()
        _ = refusing
    }
}

extension Result {
    fileprivate var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
