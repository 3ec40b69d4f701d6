import Foundation
import NIOHTTP1
import TandemDomain
import TandemJournal
import TandemProviders
import TandemRuns
import TandemServer
import TandemHTTPTestSupport
import TandemTestSupport
import Testing

/// What the journal records: complete, redacted, write-ahead; and the wire format old clients use.
@Suite("Audit trail and wire compatibility", .timeLimit(.minutes(1)))
struct AuditTests {
    @Test("Write-ahead: every frame's id is a journaled event of the run, and re-rendering that event gives the frame")
    func writeAhead() async throws {
        let provider = FakeProvider()
        try await TestServer.with(provider: provider) { server in
            let stream = try await query(server)
            provider.flash.send(.fail(ProviderError(errorClass: "upstream_http_5xx", message: "x", httpStatus: 502, retryable: true)))
            // Pro answers only once Flash's error is out: otherwise Pro may win and supersede Flash.
            let first = try #require(try await stream.next())
            provider.pro.send(.complete("One.\n\nTwo."))
            let frames = [first] + (try await stream.rest())
            #expect(frames.names == ["error", "final", "done"])
            let run = try runID(of: stream)
            let entries = try server.journal.entries(of: run)
            var renderer = FrameRenderer(traceID: run.rawValue)
            var rendered: [UInt64: SSEFrame] = [:]
            for entry in entries {
                if let frame = renderer.frame(for: try DomainEvent(entry), seq: entry.seq) { rendered[entry.seq] = frame }
            }
            for frame in frames {
                let id = try #require(frame.id)
                let expected = try #require(rendered[id], "frame \(id) has no journaled event")
                #expect(frame.event == expected.event.rawValue)
                #expect(frame.data == String(decoding: expected.data, as: UTF8.self))
            }
            #expect(frames.count == rendered.count)
        }
    }

    @Test("Audit record complete: input, both outputs, timings, tokens and served versions are journaled (old: audit persistence)")
    func auditComplete() async throws {
        let provider = FakeProvider()
        try await TestServer.with(provider: provider) { server in
            let stream = try await query(server, #"{"query":"What is 2+2?","context":{"user_id":"u-7"}}"#)
            server.clock.advance(to: .milliseconds(300))
            provider.flash.send(.complete("4", served: "gemini-2.5-flash-001", usage: TokenUsage(inputTokens: 7, outputTokens: 1)))
            _ = try await stream.next()
            server.clock.advance(to: .milliseconds(1_800))
            provider.pro.send(.complete("Four.", served: "gemini-2.5-pro-002", usage: TokenUsage(inputTokens: 7, outputTokens: 2)))
            _ = try await stream.rest()
            let all = try events(server, try runID(of: stream))
            guard case .runStarted(let started) = all.first else {
                Issue.record("no run_started")
                return
            }
            #expect(started.query == "What is 2+2?")
            #expect(started.context == .object(["user_id": .string("u-7")]))
            #expect(started.config.flashModel == "gemini-2.5-flash")
            #expect(started.config.proTimeoutS == 45)
            #expect(started.config.provider == "fake")
            #expect(started.requestDigest.count == 64)
            #expect(all.contains(.modelCompleted(.flash, ModelCompleted(
                model: "gemini-2.5-flash-001", content: "4", usage: TokenUsage(inputTokens: 7, outputTokens: 1),
                latencyMs: 300, ttftMs: 300, finishReason: "STOP", providerRequestID: "fake-flash"
            ))))
            #expect(all.contains(.modelCompleted(.pro, ModelCompleted(
                model: "gemini-2.5-pro-002", content: "Four.", usage: TokenUsage(inputTokens: 7, outputTokens: 2),
                latencyMs: 1_800, ttftMs: 1_800, finishReason: "STOP", providerRequestID: "fake-pro"
            ))))
            #expect(all.last == .done(RunDone(status: .ok, durationMs: 1_800)))
        }
    }

    @Test("Redaction: e-mails, phone numbers, SSNs and keys never reach the journal")
    func redaction() async throws {
        let provider = FakeProvider()
        try await TestServer.with(provider: provider) { server in
            let body = #"{"query":"Mail alice@example.com or call +1 (415) 555-0132, SSN 123-45-6789, key sk-abcdefghijklmnop1234","context":{"note":"Authorization: Bearer abcdefghijklmnopqrstuvwxyz","year":"2026-11-28","login":{"password":"hunter2!!"}}}"#
            let stream = try await query(server, body)
            provider.flash.send(.complete("Reply to alice@example.com"))
            provider.pro.send(.fail(ProviderError(errorClass: "upstream_http_4xx", message: "invalid key AIzaSyA1234567890abcdefghijklmnopqrstuv", httpStatus: 400, retryable: false)))
            let frames = try await stream.rest()
            let journal = try server.journal.entries(from: 1).map(\.text).joined(separator: "\n")
            for secret in ["alice@example.com", "555-0132", "123-45-6789", "sk-abcdefghijklmnop1234", "abcdefghijklmnopqrstuvwxyz", "AIzaSyA1234567890", "hunter2!!"] {
                #expect(!journal.contains(secret), "\(secret) reached the journal")
                #expect(!frames.map(\.data).joined().contains(secret), "\(secret) reached the client")
            }
            for placeholder in ["[REDACTED_EMAIL]", "[REDACTED_PHONE]", "[REDACTED_SSN]", "[REDACTED_KEY]"] {
                #expect(journal.contains(placeholder), "\(placeholder) missing")
            }
            #expect(journal.contains("2026-11-28"), "dates are not phone numbers")
            #expect(journal.contains(#""redaction":"default-v3""#))
        }
    }

    @Test("TANDEM_REDACT=off journals the request as sent and records the policy as off")
    func redactionOff() async throws {
        let provider = FakeProvider()
        try await TestServer.with(provider: provider, settings: RunSettings(redact: false)) { server in
            let stream = try await query(server, #"{"query":"mail bob@example.com"}"#)
            provider.flash.send(.complete("a"))
            provider.pro.send(.complete("b"))
            _ = try await stream.rest()
            let journal = try server.journal.entries(from: 1).map(\.text).joined(separator: "\n")
            #expect(journal.contains("bob@example.com"))
            #expect(journal.contains(#""redaction":"off""#))
        }
    }

    @Test("Backward-compatible payloads and headers (old: backward compat)")
    func wireCompatibility() async throws {
        let provider = FakeProvider()
        try await TestServer.with(provider: provider) { server in
            let stream = try await query(server)
            #expect(stream.header("content-type") == "text/event-stream; charset=utf-8")
            #expect(stream.header("cache-control") == "no-cache")
            let requestID = try #require(stream.header("X-Request-ID"))
            #expect(requestID.count == 32 && requestID.allSatisfy { $0.isHexDigit && !$0.isUppercase })
            // A UUID4 without dashes: version nibble 4, variant 10xx.
            #expect(Array(requestID)[12] == "4" && "89ab".contains(Array(requestID)[16]))
            provider.flash.send(.complete("Flash says hi."))
            // Pro fails only once Flash's frame is out: the two calls end in a known order.
            let first = try #require(try await stream.next())
            provider.pro.send(.fail(ProviderError(errorClass: "upstream_http_5xx", message: "down", httpStatus: 503, retryable: true)))
            let frames = [first] + (try await stream.rest())
            #expect(frames.names == ["preliminary", "error", "done"])
            let preliminary = frames[0]
            #expect(preliminary.json["message"] as? String == "⚡ Quick preview - computing verified response...")
            #expect(preliminary.json["trace_id"] as? String == requestID)
            let response = preliminary.response
            #expect(response["model"] as? String == "gemini-2.5-flash")
            #expect(response["content"] as? String == "Flash says hi.")
            #expect(response["is_preliminary"] as? Bool == true)
            #expect(response["confidence"] as? String == "medium")
            #expect(response["latency_ms"] is Double || response["latency_ms"] is Int)
            let usage = try #require(response["usage"] as? [String: Any])
            #expect(usage["input_tokens"] as? Int == 3)
            #expect(usage["output_tokens"] as? Int == 5)
            let error = frames[1].json
            for field in ["error", "code", "type", "retryable", "model", "trace_id"] {
                #expect(error[field] != nil, "error frame lacks \(field)")
            }
            #expect(frames[2].json["trace_id"] as? String == requestID)
            #expect(frames.allSatisfy { !$0.data.contains("\n") })
        }
    }

    @Test("final carries reasoning_steps: the first five paragraphs")
    func reasoningSteps() async throws {
        let provider = FakeProvider()
        try await TestServer.with(provider: provider) { server in
            let stream = try await query(server)
            provider.pro.send(.complete((1...7).map { "Paragraph \($0)." }.joined(separator: "\n\n")))
            let final = try #require(try await stream.next())
            #expect(final.event == "final")
            #expect(final.json["message"] as? String == "✅ Verified response ready")
            #expect(final.response["is_preliminary"] as? Bool == false)
            #expect(final.response["confidence"] as? String == "high")
            #expect(final.response["reasoning_steps"] as? [String] == (1...5).map { "Paragraph \($0)." })
            _ = try await stream.rest()
        }
    }

    @Test("Latency per model from the monotonic clock: Flash mean < Pro mean over several runs (old: metrics recorded)")
    func latencyPerModel() async throws {
        let provider = FakeProvider()
        try await TestServer.with(provider: provider) { server in
            var flash: [Double] = []
            var pro: [Double] = []
            for index in 0..<3 {
                let start = server.clock.elapsed
                let stream = try await query(server)
                await provider.pro.waitForCalls(index + 1)
                server.clock.advance(to: start + .milliseconds(200 + index * 100))
                provider.flash.send(.complete("fast"))
                _ = try await stream.next()
                server.clock.advance(to: start + .milliseconds(2_000 + index * 500))
                provider.pro.send(.complete("slow"))
                _ = try await stream.rest()
                for event in try events(server, try runID(of: stream)) {
                    if case .modelCompleted(let role, let completed) = event {
                        if role == .flash { flash.append(completed.latencyMs) } else { pro.append(completed.latencyMs) }
                    }
                }
            }
            #expect(flash == [200, 300, 400])
            #expect(pro == [2_000, 2_500, 3_000])
            let flashMean: Double = flash.reduce(0, +) / Double(flash.count)
            let proMean: Double = pro.reduce(0, +) / Double(pro.count)
            #expect(flashMean < proMean)
        }
    }

    @Test("The scripted provider serves a whole run with no API key, labelled as simulated")
    func scriptedProvider() async throws {
        let clock = ManualClock()
        // Flash answers at once; Pro's first paragraph comes at 200 ms on the provider's clock and
        // the rest at 1 s; the clock moves only once the preliminary frame is out (with both at
        // zero latency they raced).
        let provider = ScriptedProvider(flash: .init(latency: .zero), pro: .init(latency: .seconds(1)), clock: clock)
        try await TestServer.with(provider: provider) { server in
            let stream = try await query(server)
            let preliminary = try #require(try await stream.next())
            for _ in 0..<5 {
                await clock.waitForSleepers(1)
                clock.advance(by: .milliseconds(200))
            }
            let frames = [preliminary] + (try await stream.rest())
            #expect(frames.names == ["preliminary", "final", "done"])
            #expect((frames[0].response["content"] as? String)?.contains("[simulated") == true)
            #expect((frames[1].response["content"] as? String)?.contains("Step 3:") == true, "Pro's whole answer")
            #expect(clock.elapsed == .seconds(1), "Pro answered when its latency was up")
            guard case .runStarted(let started) = try events(server, try runID(of: stream)).first else {
                Issue.record("no run_started")
                return
            }
            #expect(started.config.provider == "scripted")
        }
    }
}
