import TandemDomain
import TandemRuns
import Testing

@Suite("Frames and redaction")
struct FrameRendererTests {
    @Test("Events map to the SSE frames of the contract; the shutdown error is sent once")
    func frames() {
        var renderer = FrameRenderer(traceID: "run-1")
        #expect(renderer.frame(for: .runStarted(RunStarted(query: "q", context: nil, client: ClientInfo(), config: RunConfig(
            flashModel: "f", proModel: "p", flashTimeoutS: 5, proTimeoutS: 45, provider: "x", redaction: "off", onFlashFailure: "continue"
        ), requestDigest: "d")), seq: 1) == nil)
        let timeout = renderer.frame(for: .modelTimeout(.pro, ModelTimeout(timeoutS: 45, phase: .total, elapsedMs: 45_000)), seq: 5)
        #expect(timeout?.event == "error")
        #expect(timeout.map { String(decoding: $0.data, as: UTF8.self) }
            == #"{"code":"pro_timeout","error":"Pro model timed out","model":"pro","retryable":true,"trace_id":"run-1","type":"timeout"}"#)
        let shutdown = DomainEvent.modelCancelled(.flash, ModelCancelled(reason: .shutdown))
        #expect(renderer.frame(for: shutdown, seq: 6)?.event == "error")
        #expect(renderer.frame(for: .modelCancelled(.pro, ModelCancelled(reason: .shutdown)), seq: 7) == nil)
        #expect(renderer.frame(for: .modelCancelled(.pro, ModelCancelled(reason: .superseded)), seq: 8) == nil)
        let done = renderer.frame(for: .done(RunDone(status: .cancelled, durationMs: 1)), seq: 9)
        #expect(done.map { String(decoding: $0.encoded, as: UTF8.self) } == "id: 9\nevent: done\ndata: {\"status\":\"cancelled\",\"trace_id\":\"run-1\"}\n\n")
        #expect(done?.isTerminal == true)
    }

    @Test("The redactor replaces secrets and personal data, and leaves ordinary text alone")
    func redactor() {
        let redactor = Redactor(enabled: true)
        #expect(redactor.redact("write to a.b-c@example.co.uk today") == "write to [REDACTED_EMAIL] today")
        #expect(redactor.redact("call 415-555-0132 or +44 20 7946 0958") == "call [REDACTED_PHONE] or [REDACTED_PHONE]")
        #expect(redactor.redact("ssn 078-05-1120") == "ssn [REDACTED_SSN]")
        #expect(redactor.redact("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc") == "Authorization: [REDACTED_KEY]")
        #expect(redactor.redact("api_key=supersecretvalue") == "api_key=[REDACTED_KEY]")
        #expect(redactor.redact("On 2026-11-28 at 08:05 we sold 1500 units for 12.50") == "On 2026-11-28 at 08:05 we sold 1500 units for 12.50")
        #expect(Redactor(enabled: false).redact("bob@example.com") == "bob@example.com")
        #expect(redactor.redact(.object(["k": .array([.string("x@y.io")])])) == .object(["k": .array([.string("[REDACTED_EMAIL]")])]))
    }
}
