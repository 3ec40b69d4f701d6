import AsyncHTTPClient
import Foundation
import NIOHTTP1
import TandemDomain
import TandemJournal
import TandemProviders
import TandemRuns
import TandemHTTPTestSupport
import TandemTestSupport
import Testing

/// `"stream": "deltas"` end to end (SPEC §10): a Gemini provider against a fake upstream that
/// streams pieces, tandem's HTTP server, and a client reading the SSE stream.
@Suite("Deltas over HTTP", .serialized, .timeLimit(.minutes(1)))
struct DeltaStreamingTests {
    private func gemini(_ upstream: FakeUpstream, _ clock: ManualClock) -> HTTPModelProvider {
        HTTPModelProvider.gemini(
            apiKey: "AIzaSECRETKEY0123456789abcdefghijklmnop", baseURL: upstream.baseURL, client: .shared,
            breakers: [.flash: CircuitBreaker(clock: clock), .pro: CircuitBreaker(clock: clock)], clock: clock
        )
    }

    /// Each piece journaled at once (the window's timer is tested on the manual clock elsewhere).
    private func settings(maxBytes: Int = 4_096) -> RunSettings {
        RunSettings(deltaLimits: DeltaLimits(window: .zero, maxBytes: maxBytes))
    }

    private static let deltasBody = #"{"query":"Why is the sky blue?","stream":"deltas"}"#

    /// The text of `model`'s delta frames, checking that each offset is the bytes before it.
    private func text(of model: String, in frames: [ClientFrame]) -> String {
        var text = ""
        for frame in frames where frame.event == "delta" && frame.json["model"] as? String == model {
            #expect(frame.json["offset"] as? Int == text.utf8.count)
            text += frame.json["text"] as? String ?? ""
        }
        return text
    }

    @Test("Delta frames carry journaled entries, never split a character (split on the wire too), and make the final answer")
    func multiByteDeltas() async throws {
        let upstream = try await FakeUpstream.start()
        let chunks = ["Blåbær og ", "rødgrøt — ", String(repeating: "é😀", count: 20) + " ", "ende."]
        upstream.script([], fallback: .splitCharacters(chunks: chunks))
        let clock = ManualClock()
        try await TestServer.with(provider: gemini(upstream, clock), settings: settings(maxBytes: 64), clock: clock) { server in
            let stream = try await SSEConnection.open(server.baseURL, "/api/reasoning/query", body: Self.deltasBody)
            let frames = try await stream.rest()
            let run = try #require(stream.header("X-Request-ID").flatMap(RunID.init))
            let final = try #require(frames.first { $0.event == "final" })
            #expect(text(of: "pro", in: frames) == chunks.joined())
            #expect(final.response["content"] as? String == chunks.joined())
            #expect(frames.lastIndex { $0.event == "delta" && $0.json["model"] as? String == "pro" }! < frames.firstIndex { $0.event == "final" }!)
            let entries = try server.journal.entries(of: run)
            for frame in frames where frame.event == "delta" {
                #expect(frame.json["trace_id"] as? String == run.rawValue)
                let text = try #require(frame.json["text"] as? String)
                #expect(text.utf8.count <= 64)
                // Written ahead: the frame's id is the journaled delta holding the same text.
                let entry = try #require(entries.first { $0.seq == frame.id })
                guard case .modelDelta(_, let delta) = try DomainEvent(entry) else {
                    Issue.record("frame \(String(describing: frame.id)) is not a journaled delta")
                    continue
                }
                #expect(delta.text == text)
            }
            let started = try entries.compactMap { entry -> RunStarted? in
                if case .runStarted(let started) = try DomainEvent(entry) { return started }
                return nil
            }
            #expect(started.first?.config.stream == "deltas")
        }
        await upstream.stop()
    }

    /// Text longer than the streaming redactor's held-back tail (at most ~500 bytes that could still
    /// begin a match), so that part of an answer reaches the client before the upstream stalls.
    static let filler = String(repeating: "plain words ", count: 90)

    @Test("A client leaving mid-answer: what it had been shown is journaled before the cancellation, and counted in the record")
    func midAnswerDisconnect() async throws {
        let upstream = try await FakeUpstream.start()
        upstream.script([], fallback: .stallMidAnswer(chunks: [Self.filler, "The first part ", "is seen. "]))
        let clock = ManualClock()
        try await TestServer.with(provider: gemini(upstream, clock), settings: settings(), clock: clock) { server in
            let stream = try await SSEConnection.open(server.baseURL, "/api/reasoning/query", body: Self.deltasBody)
            let run = try #require(stream.header("X-Request-ID").flatMap(RunID.init))
            var seen: [ClientFrame] = []
            while text(of: "pro", in: seen).isEmpty {
                seen.append(try #require(try await stream.next()))
            }
            // Reads on until cancelled (frames already buffered would otherwise return at once).
            let reader = Task { while try await stream.next() != nil {} }
            reader.cancel()
            _ = try? await reader.value
            try await waitUntilDone(server, run)
            let all = try events(server, run)
            let proEvents = all.filter { $0.role == .pro }
            #expect(proEvents.last == .modelCancelled(.pro, ModelCancelled(reason: .clientDisconnected)))
            let proText = proEvents.compactMap { event -> String? in
                if case .modelDelta(_, let delta) = event { return delta.text }
                return nil
            }.joined()
            // The client saw a prefix; the redactor's held-back tail is journaled right before the
            // cancellation, so the journal has everything the upstream sent.
            #expect(proText.hasPrefix(text(of: "pro", in: seen)))
            #expect(proText == Self.filler + "The first part is seen. ")
            let record = try await HTTPTestClient.send(server.baseURL, "/api/runs/\(run.rawValue)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(record.body.utf8)) as? [String: Any])
            #expect((json["pro"] as? [String: Any])?["streamed_bytes"] as? Int == (Self.filler + "The first part is seen. ").utf8.count)
        }
        await upstream.stop()
    }

    @Test("A deadline mid-answer: the deltas so far go before the timeout, then the error frame")
    func midAnswerTimeout() async throws {
        let upstream = try await FakeUpstream.start()
        upstream.script([], fallback: .stallMidAnswer(chunks: [Self.filler, "Half ", "an answer "]))
        let clock = ManualClock()
        try await TestServer.with(provider: gemini(upstream, clock), settings: settings(), clock: clock) { server in
            let stream = try await SSEConnection.open(server.baseURL, "/api/reasoning/query", body: Self.deltasBody)
            let run = try #require(stream.header("X-Request-ID").flatMap(RunID.init))
            var seen: [ClientFrame] = []
            while text(of: "flash", in: seen).isEmpty || text(of: "pro", in: seen).isEmpty {
                seen.append(try #require(try await stream.next()))
            }
            await server.clock.waitForSleepers(2)  // the deadline scheduler and the pinger
            server.clock.advance(to: .seconds(5))
            // The redactor's held-back tail goes out as deltas right before the timeout.
            var error = try #require(try await stream.next())
            while error.event == "delta" { error = try #require(try await stream.next()) }
            #expect(error.event == "error")
            #expect(error.json["code"] as? String == "flash_timeout")
            server.clock.advance(to: .seconds(45))
            let rest = try await stream.rest()
            #expect(rest.filter { $0.event != "delta" }.map(\.event) == ["error", "done"])
            let types = try server.journal.entries(of: run).map(\.type)
            #expect(types.lastIndex(of: "flash_delta")! < types.firstIndex(of: "flash_timeout")!)
            #expect(types.lastIndex(of: "pro_delta")! < types.firstIndex(of: "pro_timeout")!)
            #expect(types.last == "done")
        }
        await upstream.stop()
    }

    @Test("Last-Event-ID inside an answer resumes with the next delta; a re-post asking for answers still replays the deltas")
    func midAnswerResume() async throws {
        let upstream = try await FakeUpstream.start()
        upstream.script([], fallback: .stallMidAnswer(chunks: [Self.filler, "one ", "two ", "three "]))
        let clock = ManualClock()
        try await TestServer.with(provider: gemini(upstream, clock), settings: settings(), clock: clock) { server in
            let body = #"{"query":"Count","stream":"deltas","run_id":"resume-deltas"}"#
            let stream = try await SSEConnection.open(server.baseURL, "/api/reasoning/query", body: body)
            var seen: [ClientFrame] = []
            while text(of: "pro", in: seen).isEmpty || text(of: "flash", in: seen).isEmpty {
                seen.append(try #require(try await stream.next()))
            }
            let first = try #require(seen.first { $0.event == "delta" })
            let resumed = try await SSEConnection.open(
                server.baseURL, "/api/runs/resume-deltas/stream", method: .GET, headers: ["Last-Event-ID": "\(try #require(first.id))"]
            )
            var again: [ClientFrame] = []
            for _ in 1..<seen.count { again.append(try #require(try await resumed.next())) }
            #expect(again == Array(seen.dropFirst()), "the next delta first, then the same frames")
            await server.clock.waitForSleepers(2)
            server.clock.advance(to: .seconds(45))
            let live = seen + (try await stream.rest())
            #expect(again + (try await resumed.rest()) == Array(live.dropFirst()))
            let replay = try await SSEConnection.open(
                server.baseURL, "/api/reasoning/query", body: #"{"query":"Count","stream":"answers","run_id":"resume-deltas"}"#
            )
            #expect(try await replay.rest() == live, "stream is not part of the digest: the run's frames are fixed at its start")
        }
        await upstream.stop()
    }

    @Test("stream must be answers or deltas", arguments: [#""all""#, "5", "true", #""Deltas""#])
    func invalidStream(value: String) async throws {
        try await TestServer.with(provider: FakeProvider()) { server in
            let response = try await HTTPTestClient.send(
                server.baseURL, "/api/reasoning/query", method: .POST, body: #"{"query":"q","stream":\#(value)}"#
            )
            #expect(response.status == 422)
            let json = try #require(try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any])
            #expect(json["code"] as? String == "validation_error")
            #expect(json["field"] as? String == "stream")
        }
    }
}
