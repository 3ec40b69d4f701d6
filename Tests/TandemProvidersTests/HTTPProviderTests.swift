import AsyncHTTPClient
import Foundation
import Synchronization
import TandemDomain
import TandemJournal
import TandemProviders
import TandemRuns
import TandemHTTPTestSupport
import TandemTestSupport
import Testing

/// Records what a provider reports while a call runs.
final class RecordingObserver: ModelCallObserver {
    let attempts = Mutex<[Int]>([])
    let retries = Mutex<[ModelRetry]>([])
    let texts = Mutex<[String]>([])

    func attemptStarted(_ attempt: Int) async { attempts.withLock { $0.append(attempt) } }
    func retrying(_ retry: ModelRetry) async { retries.withLock { $0.append(retry) } }
    func received(_ text: String) async { texts.withLock { $0.append(text) } }
}

@Suite("HTTP providers against fake upstream servers", .serialized, .timeLimit(.minutes(1)))
struct HTTPProviderTests {
    private func request(_ role: ModelRole = .flash, deadline: Duration? = nil) -> ModelRequest {
        ModelRequest(
            role: role, model: role == .flash ? "gemini-2.5-flash" : "gemini-2.5-pro", query: "Why?",
            context: .object(["user": .string("u1")]), settings: role == .flash ? .flash : .pro, runID: "r1", deadline: deadline
        )
    }

    private func breakers(_ clock: any MonotonicClock, threshold: Int = 5) -> [ModelRole: CircuitBreaker] {
        [.flash: CircuitBreaker(threshold: threshold, coolDown: .seconds(30), clock: clock),
         .pro: CircuitBreaker(threshold: threshold, coolDown: .seconds(30), clock: clock)]
    }

    private func gemini(_ upstream: FakeUpstream, clock: any MonotonicClock = ManualClock(), retry: RetryPolicy = RetryPolicy(random: { 0.5 }), threshold: Int = 5) -> HTTPModelProvider {
        HTTPModelProvider.gemini(apiKey: "test-key-123", baseURL: upstream.baseURL, client: .shared, retry: retry, breakers: breakers(clock, threshold: threshold), clock: clock)
    }

    @Test("Gemini: streamed text, usage, served version and response id; key in a header, settings in the body")
    func geminiAnswer() async throws {
        let upstream = try await FakeUpstream.start()
        upstream.script([.answer(chunks: ["Rayleigh", " scattering."], version: "gemini-2.5-flash-002")])
        let observer = RecordingObserver()
        let response = try await gemini(upstream).generate(request(), observer: observer)
        #expect(response.content == "Rayleigh scattering.")
        #expect(response.servedModel == "gemini-2.5-flash-002")
        #expect(response.usage == TokenUsage(inputTokens: 7, outputTokens: 4))
        #expect(response.providerRequestID == "resp-1")
        #expect(response.finishReason == "STOP")
        #expect(observer.texts.withLock { $0 } == ["Rayleigh", " scattering."])
        let sent = try #require(upstream.requests.first)
        #expect(sent.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent")
        #expect(sent.headers["x-goog-api-key"] == "test-key-123")
        #expect(sent.body.contains(#""maxOutputTokens":1024"#))
        #expect(sent.body.contains(#""temperature":0.7"#))
        #expect(sent.body.contains("Why?"))
        await upstream.stop()
    }

    @Test("OpenAI-compatible: streamed deltas, usage from the last chunk, bearer key, stream_options.include_usage")
    func openAIAnswer() async throws {
        let upstream = try await FakeUpstream.start()
        upstream.script([.answer(chunks: ["4", "2"], version: "llama3.1:8b")])
        let provider = HTTPModelProvider.openAI(baseURL: upstream.baseURL + "/v1", apiKey: "sk-local", client: .shared, breakers: breakers(ManualClock()), clock: ManualClock())
        let response = try await provider.generate(request(.pro), observer: RecordingObserver())
        #expect(response.content == "42")
        #expect(response.servedModel == "llama3.1:8b")
        #expect(response.usage == TokenUsage(inputTokens: 7, outputTokens: 4))
        let sent = try #require(upstream.requests.first)
        #expect(sent.path == "/v1/chat/completions")
        #expect(sent.headers["authorization"] == "Bearer sk-local")
        #expect(sent.body.contains(#""include_usage":true"#))
        #expect(sent.body.contains(#""max_tokens":8192"#))
        await upstream.stop()
    }

    @Test("Failures get classes that say what happened", arguments: [
        (FakeUpstream.Behaviour.malformed, "upstream_protocol"),
        (.blocked, "upstream_blocked"),
        (.status(400, retryAfter: nil), "upstream_http_4xx"),
    ])
    func failureClasses(behaviour: FakeUpstream.Behaviour, expected: String) async throws {
        let upstream = try await FakeUpstream.start()
        upstream.script([behaviour])
        await #expect {
            _ = try await gemini(upstream).generate(request(), observer: RecordingObserver())
        } throws: { error in
            (error as? ProviderError)?.errorClass == expected
        }
        #expect(upstream.requests.count == 1, "non-retryable failures are not retried")
        await upstream.stop()
    }

    @Test("429 with Retry-After and 500 are retried with backoff; each retry is reported")
    func retries() async throws {
        let upstream = try await FakeUpstream.start()
        upstream.script([.status(429, retryAfter: 2), .status(500, retryAfter: nil), .answer(chunks: ["ok"])])
        let clock = ManualClock()
        let observer = RecordingObserver()
        let provider = gemini(upstream, clock: clock, retry: RetryPolicy(maxAttempts: 4, baseDelay: .seconds(1), random: { 0.5 }))
        let call = Task { try await provider.generate(request(deadline: .seconds(60)), observer: observer) }
        await clock.waitForSleepers(1)
        clock.advance(by: .seconds(2))  // Retry-After: 2 s (more than the jittered 0.5 s)
        await clock.waitForSleepers(1)
        clock.advance(by: .seconds(1))  // second backoff: 2 s ceiling x 0.5
        let response = try await call.value
        #expect(response.content == "ok")
        #expect(observer.attempts.withLock { $0 } == [1, 2, 3])
        let retries = observer.retries.withLock { $0 }
        #expect(retries.map(\.errorClass) == ["upstream_rate_limited", "upstream_http_5xx"])
        #expect(retries.map(\.httpStatus) == [429, 500])
        #expect(retries.map(\.delayMs) == [2_000, 1_000])
        await upstream.stop()
    }

    @Test("Retries stop at the deadline: no retry sleeps past it")
    func retriesStopAtDeadline() async throws {
        let upstream = try await FakeUpstream.start()
        upstream.script([], fallback: .status(503, retryAfter: nil))
        let clock = ManualClock()
        let observer = RecordingObserver()
        let provider = gemini(upstream, clock: clock, retry: RetryPolicy(maxAttempts: 10, baseDelay: .seconds(2), random: { 1 }))
        let call = Task { try await provider.generate(request(deadline: .seconds(5)), observer: observer) }
        await clock.waitForSleepers(1)
        clock.advance(by: .seconds(2))  // first retry after 2 s; the next would need 4 s more: past 5 s
        await #expect(throws: ProviderError.self) { try await call.value }
        #expect(upstream.requests.count == 2)
        #expect(observer.retries.withLock { $0.count } == 1)
        await upstream.stop()
    }

    @Test("The circuit opens after consecutive failures, fails fast, and closes after the cool-down")
    func circuitBreaker() async throws {
        let upstream = try await FakeUpstream.start()
        upstream.script([.status(400, retryAfter: nil), .status(400, retryAfter: nil)], fallback: .answer(chunks: ["back"]))
        let clock = ManualClock()
        let provider = gemini(upstream, clock: clock, retry: RetryPolicy(maxAttempts: 1), threshold: 2)
        for _ in 0..<2 {
            await #expect(throws: ProviderError.self) { _ = try await provider.generate(request(), observer: RecordingObserver()) }
        }
        await #expect {
            _ = try await provider.generate(request(), observer: RecordingObserver())
        } throws: { ($0 as? ProviderError)?.errorClass == "circuit_open" }
        #expect(upstream.requests.count == 2, "an open circuit does not call upstream")
        clock.advance(by: .seconds(30))
        #expect(try await provider.generate(request(), observer: RecordingObserver()).content == "back")
        #expect(try await provider.generate(request(), observer: RecordingObserver()).content == "back")
        await upstream.stop()
    }

    @Test("A trickled stream is assembled in order, each piece reported as it arrives")
    func trickle() async throws {
        let upstream = try await FakeUpstream.start()
        upstream.script([.trickle(chunks: ["one", " two", " three"], gap: .milliseconds(20))])
        let observer = RecordingObserver()
        let response = try await gemini(upstream).generate(request(), observer: observer)
        #expect(response.content == "one two three")
        #expect(observer.texts.withLock { $0 } == ["one", " two", " three"])
        await upstream.stop()
    }

    @Test("A slow upstream (no headers yet) is abandoned at once when the call is cancelled")
    func cancelWhileWaitingForHeaders() async throws {
        let upstream = try await FakeUpstream.start()
        // The upstream never answers until it stops: a call that waited for its headers would hang
        // until the suite's time limit instead of ending here.
        upstream.script([.holdHeaders])
        let provider = gemini(upstream)
        let call = Task { try await provider.generate(request(), observer: RecordingObserver()) }
        await upstream.waitForRequests(1)
        call.cancel()
        await #expect(throws: CancellationError.self) { try await call.value }
        await upstream.stop()
    }

    @Test("A broken-off stream is an upstream_connection failure")
    func cutConnection() async throws {
        let upstream = try await FakeUpstream.start()
        upstream.script([.cut], fallback: .cut)
        await #expect {
            _ = try await gemini(upstream, retry: RetryPolicy(maxAttempts: 1)).generate(request(), observer: RecordingObserver())
        } throws: { ($0 as? ProviderError)?.errorClass == "upstream_connection" }
        await upstream.stop()
    }
}
