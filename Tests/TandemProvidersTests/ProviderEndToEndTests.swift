import AsyncHTTPClient
import Foundation
import TandemDomain
import TandemJournal
import TandemProviders
import TandemRuns
import TandemServer
import TandemHTTPTestSupport
import TandemTestSupport
import Testing

@Suite("Providers end to end through tandem's server", .serialized, .timeLimit(.minutes(1)))
struct ProviderEndToEndTests {
    private func gemini(_ upstream: FakeUpstream, _ clock: ManualClock) -> HTTPModelProvider {
        HTTPModelProvider.gemini(
            apiKey: "AIzaSECRETKEY0123456789abcdefghijklmnop", baseURL: upstream.baseURL, client: .shared,
            breakers: [.flash: CircuitBreaker(clock: clock), .pro: CircuitBreaker(clock: clock)], clock: clock
        )
    }

    @Test("serve with gemini against a fake upstream: full SSE run; completed events carry served version and usage; no key journaled")
    func geminiRun() async throws {
        let upstream = try await FakeUpstream.start()
        upstream.script([], fallback: .answer(chunks: ["Blue light", " scatters more."], version: "gemini-2.5-x-001"))
        let clock = ManualClock()
        try await TestServer.with(provider: gemini(upstream, clock), clock: clock) { server in
            let stream = try await SSEConnection.open(server.baseURL, "/api/reasoning/query", body: #"{"query":"Why is the sky blue?"}"#)
            let frames = try await stream.rest()
            #expect(Set(frames.map(\.event)).isSuperset(of: ["final", "done"]))
            #expect(frames.last?.event == "done")
            let run = try #require(stream.header("X-Request-ID").flatMap(RunID.init))
            let events = try server.journal.entries(of: run).map { try DomainEvent($0) }
            let completed = events.compactMap { event -> ModelCompleted? in
                if case .modelCompleted(_, let completed) = event { return completed }
                return nil
            }
            #expect(!completed.isEmpty)
            for answer in completed {
                #expect(answer.model == "gemini-2.5-x-001")
                #expect(answer.usage == TokenUsage(inputTokens: 7, outputTokens: 4))
                #expect(answer.content == "Blue light scatters more.")
            }
            #expect((1...2).contains(upstream.requests.count), "Flash may be superseded before its request goes out")
            let journal = try server.journal.entries(from: 1).map(\.text).joined()
            #expect(!journal.contains("AIzaSECRETKEY"))
        }
        await upstream.stop()
    }

    @Test("A deadline closes the upstream connection: the fake server sees the close right after expiry, before any other deadline")
    func deadlineClosesSocket() async throws {
        let upstream = try await FakeUpstream.start()
        upstream.script([], fallback: .stallAfterHeaders)
        let clock = ManualClock()
        try await TestServer.with(provider: gemini(upstream, clock), clock: clock) { server in
            let stream = try await SSEConnection.open(server.baseURL, "/api/reasoning/query", body: #"{"query":"stall"}"#)
            await upstream.waitForRequests(2)
            await server.clock.waitForSleepers(2)  // the deadline scheduler and the pinger
            let expiry = ContinuousClock.now
            server.clock.advance(to: .seconds(5))
            let error = try #require(try await stream.next())
            #expect(error.json["code"] as? String == "flash_timeout")
            // The close comes from Flash's expiry alone: the injected clock stays where it is (Pro's
            // deadline has not passed) until the fake server has seen it. How long it takes on the
            // wall clock depends on the machine's load, so it is reported, not asserted.
            await upstream.waitForCloses(1)
            let closed = try #require(upstream.closes.first, "the upstream connection was not closed after Flash's deadline")
            #expect(expiry < closed, "closed \(expiry.duration(to: closed)) after expiry")
            await server.clock.waitForSleepers(2)
            server.clock.advance(to: .seconds(45))
            #expect(try await stream.rest().last?.event == "done")
        }
        await upstream.stop()
    }

    @Test("Upstream error messages are journaled with keys redacted")
    func errorsRedacted() async throws {
        let upstream = try await FakeUpstream.start()
        upstream.script([], fallback: .status(400, retryAfter: nil))
        let clock = ManualClock()
        try await TestServer.with(provider: gemini(upstream, clock), clock: clock) { server in
            let stream = try await SSEConnection.open(server.baseURL, "/api/reasoning/query", body: #"{"query":"bad"}"#)
            let frames = try await stream.rest()
            #expect(frames.map(\.event) == ["error", "error", "done"])
            let journal = try server.journal.entries(from: 1).map(\.text).joined()
            #expect(journal.contains("upstream_http_4xx"))
            #expect(journal.contains("[REDACTED_KEY]"))
            #expect(!journal.contains("AIzaFAKEKEY"))
        }
        await upstream.stop()
    }
}
