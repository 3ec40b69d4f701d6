import AsyncHTTPClient
import Synchronization
import TandemDomain
import TandemProviders
import TandemHTTPTestSupport
import TandemTestSupport
import Testing

/// A token source that fails with an error that is not a ``ProviderError`` on the calls listed.
private final class FlakyTokens: AccessTokenSource {
    struct Trouble: Error {}
    private let calls = Mutex(0)
    private let failing: Set<Int>

    init(failingCalls: Set<Int>) {
        failing = failingCalls
    }

    func token() async throws -> String {
        let call = calls.withLock { count in
            count += 1
            return count
        }
        if failing.contains(call) { throw Trouble() }
        return "token-\(call)"
    }
}

/// Every way a half-open trial can end must settle the breaker: success closes it, an upstream
/// failure opens it again, and a trial that is cancelled or fails beside the upstream gives its
/// place to the next call (before the fix, such a trial left the breaker half-open for good:
/// every later call failed `circuit_open` until restart).
@Suite("Circuit breaker: every way a half-open trial ends", .serialized, .timeLimit(.minutes(1)))
struct CircuitBreakerTrialTests {
    private let clock = ManualClock()

    private func request(deadline: Duration? = nil) -> ModelRequest {
        ModelRequest(
            role: .flash, model: "gemini-2.5-flash", query: "Why?", context: nil, settings: .flash, runID: "r1", deadline: deadline
        )
    }

    /// A Gemini provider whose flash circuit opens after one failure, for 30 s.
    private func provider(_ upstream: FakeUpstream, retry: RetryPolicy = RetryPolicy(maxAttempts: 1)) -> HTTPModelProvider {
        HTTPModelProvider.gemini(
            apiKey: "k", baseURL: upstream.baseURL, client: .shared, retry: retry,
            breakers: [.flash: CircuitBreaker(threshold: 1, coolDown: .seconds(30), clock: clock)], clock: clock
        )
    }

    /// Opens the circuit with one 400, then lets the cool-down pass: the next call is the trial.
    private func openThenCoolDown(_ provider: HTTPModelProvider) async {
        await #expect(throws: ProviderError.self) { _ = try await provider.generate(request(), observer: RecordingObserver()) }
        await #expect {
            _ = try await provider.generate(request(), observer: RecordingObserver())
        } throws: { ($0 as? ProviderError)?.errorClass == "circuit_open" }
        clock.advance(by: .seconds(30))
    }

    private func expectCallGoesThrough(_ provider: HTTPModelProvider, _ comment: Comment) async throws {
        let response = try await provider.generate(request(), observer: RecordingObserver())
        #expect(response.content == "back", comment)
    }

    @Test("A successful trial closes the circuit")
    func trialSucceeds() async throws {
        let upstream = try await FakeUpstream.start()
        upstream.script([.status(400, retryAfter: nil)], fallback: .answer(chunks: ["back"]))
        let provider = provider(upstream)
        await openThenCoolDown(provider)
        try await expectCallGoesThrough(provider, "the trial")
        try await expectCallGoesThrough(provider, "the circuit is closed again")
        await upstream.stop()
    }

    @Test("A failed trial opens the circuit again for the cool-down")
    func trialFails() async throws {
        let upstream = try await FakeUpstream.start()
        upstream.script([.status(400, retryAfter: nil), .status(400, retryAfter: nil)], fallback: .answer(chunks: ["back"]))
        let provider = provider(upstream)
        await openThenCoolDown(provider)
        await #expect { _ = try await provider.generate(request(), observer: RecordingObserver()) } throws: {
            ($0 as? ProviderError)?.errorClass == "upstream_http_4xx"
        }
        await #expect { _ = try await provider.generate(request(), observer: RecordingObserver()) } throws: {
            ($0 as? ProviderError)?.errorClass == "circuit_open"
        }
        #expect(upstream.requests.count == 2)
        clock.advance(by: .seconds(30))
        try await expectCallGoesThrough(provider, "the next trial after another cool-down")
        await upstream.stop()
    }

    @Test("A trial cancelled while waiting for the upstream releases the trial")
    func trialCancelledWaitingForUpstream() async throws {
        let upstream = try await FakeUpstream.start()
        upstream.script([.status(400, retryAfter: nil), .stallAfterHeaders], fallback: .answer(chunks: ["back"]))
        let provider = provider(upstream)
        await openThenCoolDown(provider)
        let trial = Task { try await provider.generate(request(), observer: RecordingObserver()) }
        await upstream.waitForRequests(2)
        trial.cancel()
        await #expect(throws: CancellationError.self) { try await trial.value }
        try await expectCallGoesThrough(provider, "the next call is the new trial, not circuit_open")
        await upstream.stop()
    }

    @Test("A trial cancelled during a retry's backoff releases the trial")
    func trialCancelledDuringBackoff() async throws {
        let upstream = try await FakeUpstream.start()
        upstream.script([.status(400, retryAfter: nil), .status(503, retryAfter: nil)], fallback: .answer(chunks: ["back"]))
        let provider = provider(upstream, retry: RetryPolicy(maxAttempts: 2, random: { 0.5 }))
        await openThenCoolDown(provider)
        let trial = Task { try await provider.generate(request(), observer: RecordingObserver()) }
        await clock.waitForSleepers(1)
        trial.cancel()
        await #expect(throws: CancellationError.self) { try await trial.value }
        try await expectCallGoesThrough(provider, "the next call is the new trial, not circuit_open")
        await upstream.stop()
    }

    @Test("A trial that fails beside the upstream (not a provider error) releases the trial")
    func trialFailsWithOtherError() async throws {
        let upstream = try await FakeUpstream.start()
        upstream.script([.status(400, retryAfter: nil)], fallback: .answer(chunks: ["back"]))
        let provider = HTTPModelProvider.vertex(
            project: "p", location: "l", baseURL: upstream.baseURL, tokens: FlakyTokens(failingCalls: [2]), client: .shared,
            retry: RetryPolicy(maxAttempts: 1),
            breakers: [.flash: CircuitBreaker(threshold: 1, coolDown: .seconds(30), clock: clock)], clock: clock
        )
        await openThenCoolDown(provider)
        await #expect(throws: FlakyTokens.Trouble.self) { _ = try await provider.generate(request(), observer: RecordingObserver()) }
        try await expectCallGoesThrough(provider, "the next call is the new trial, not circuit_open")
        await upstream.stop()
    }
}
