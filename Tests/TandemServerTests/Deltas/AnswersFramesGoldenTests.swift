import Foundation
import TandemDomain
import TandemJournal
import TandemRuns
import TandemHTTPTestSupport
import TandemTestSupport
import Testing

/// `"stream": "answers"` (and no `stream` at all) keeps the frames byte for byte: the same scripted
/// run compared with a capture (`Tests/Fixtures/frames/answers-run.sse`). The capture in the
/// repository was written by this test (`TANDEM_CAPTURE_GOLDEN_FRAMES=1`) on the branch that added
/// deltas, not yet on the code before it: running the capture on that commit (f171bb2, where the
/// request's `stream` field is ignored) and diffing confirms it.
@Suite("Answers runs keep today's frames", .timeLimit(.minutes(1)))
struct AnswersFramesGoldenTests {
    private static let golden = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/frames/answers-run.sse")

    /// One run driven step by step on the manual clock: Flash streams two pieces and answers at
    /// 400 ms, Pro streams one and answers at 2.5 s. Returns the frames as written on the wire.
    private func framesOfScriptedRun(body: String) async throws -> String {
        let provider = FakeProvider()
        return try await TestServer.with(provider: provider) { server in
            let stream = try await SSEConnection.open(
                server.baseURL, "/api/reasoning/query", body: body, headers: ["Idempotency-Key": "golden-answers-run"]
            )
            await provider.flash.waitForCalls(1)
            await provider.pro.waitForCalls(1)
            server.clock.advance(to: .milliseconds(100))
            provider.flash.send(.chunk("Rayleigh "))
            provider.flash.send(.chunk("scattering — ünïcode."))
            server.clock.advance(to: .milliseconds(400))
            provider.flash.send(.complete("Rayleigh scattering — ünïcode."))
            var frames = [try #require(try await stream.next())]
            server.clock.advance(to: .milliseconds(2_500))
            provider.pro.send(.chunk("Short answer.\n\nBecause of Rayleigh scattering."))
            provider.pro.send(.complete("Short answer.\n\nBecause of Rayleigh scattering."))
            frames += try await stream.rest()
            return frames.map { frame in
                (frame.id.map { "id: \($0)\n" } ?? "") + "event: \(frame.event)\ndata: \(frame.data)\n\n"
            }.joined()
        }
    }

    @Test("Without a stream field and with \"answers\", the frames equal the capture", arguments: [
        #"{"query":"Why is the sky blue?"}"#, #"{"query":"Why is the sky blue?","stream":"answers"}"#,
    ])
    func sameFrames(body: String) async throws {
        let frames = try await framesOfScriptedRun(body: body)
        if ProcessInfo.processInfo.environment["TANDEM_CAPTURE_GOLDEN_FRAMES"] == "1" {
            try frames.write(to: Self.golden, atomically: true, encoding: .utf8)
            return
        }
        let expected = try String(contentsOf: Self.golden, encoding: .utf8)
        #expect(frames == expected)
        #expect(!frames.contains("event: delta"))
    }
}
