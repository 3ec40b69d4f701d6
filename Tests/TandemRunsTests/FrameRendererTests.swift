import Crypto
import Foundation
import TandemDomain
import TandemJournal
import TandemTestSupport
import Testing

@testable import TandemRuns

@Suite("Frames and redaction")
struct FrameRendererTests {
    @Test("Events map to the SSE frames of the contract; the shutdown error is sent once")
    func frames() {
        var renderer = FrameRenderer(traceID: "run-1")
        #expect(renderer.frame(for: .runStarted(RunStarted(query: "q", context: nil, client: ClientInfo(), config: RunConfig(
            flashModel: "f", proModel: "p", flashTimeoutS: 5, proTimeoutS: 45, provider: "x", redaction: "off", onFlashFailure: "continue"
        ), requestDigest: "d")), seq: 1) == nil)
        let timeout = renderer.frame(for: .modelTimeout(.pro, ModelTimeout(timeoutS: 45, phase: .total, elapsedMs: 45_000)), seq: 5)
        #expect(timeout?.event == .error)
        #expect(timeout.map { String(decoding: $0.data, as: UTF8.self) }
            == #"{"code":"pro_timeout","error":"Pro model timed out","model":"pro","retryable":true,"trace_id":"run-1","type":"timeout"}"#)
        let shutdown = DomainEvent.modelCancelled(.flash, ModelCancelled(reason: .shutdown))
        #expect(renderer.frame(for: shutdown, seq: 6)?.event == .error)
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
        #expect(redactor.redact("authorization: BeArEr eyJhbGciOiJIUzI1NiJ9.abc") == "authorization: [REDACTED_KEY]")
        #expect(redactor.redact("api_key=supersecretvalue") == "api_key=[REDACTED_KEY]")
        // Assignments in any case and spacing keep their name and separator (policy default-v3).
        #expect(redactor.redact("the API-KEY: 'abcdef123456' leaked") == "the API-KEY: '[REDACTED_KEY]' leaked")
        #expect(redactor.redact("ToKeN = abcdef123") == "ToKeN = [REDACTED_KEY]")
        #expect(redactor.redact("PASSWORD:hunter2222") == "PASSWORD:[REDACTED_KEY]")
        #expect(redactor.redact("my Secret=s3cr3t-value!") == "my Secret=[REDACTED_KEY]")
        #expect(redactor.redact("use sk-abcdefghijklmnop1234 or rk-ABCDEFGHIJKLMNOP_-12") == "use [REDACTED_KEY] or [REDACTED_KEY]")
        #expect(redactor.redact("push with ghp_abcdefghijklmnopqrstuvwxyz0123 now") == "push with [REDACTED_KEY] now")
        #expect(redactor.redact("token github_pat_abcdefghijklmnopqrstuv") == "token [REDACTED_KEY]")
        #expect(redactor.redact("Step 1: go through the keys, high and low; tokens are fine") == "Step 1: go through the keys, high and low; tokens are fine")
        #expect(redactor.redact("On 2026-11-28 at 08:05 we sold 1500 units for 12.50") == "On 2026-11-28 at 08:05 we sold 1500 units for 12.50")
        #expect(Redactor(enabled: false).redact("bob@example.com") == "bob@example.com")
        #expect(redactor.redact(.object(["k": .array([.string("x@y.io")])])) == .object(["k": .array([.string("[REDACTED_EMAIL]")])]))
    }

    @Test("Frame payloads are written byte for byte as JSONEncoder writes them")
    func framePayloadBytes() throws {
        for text in ["", #"a "quoted" \ / é 😀"#, String((0..<32).map { Character(Unicode.Scalar(UInt8($0))) })] {
            for latency in [0, 12.5, 1e-7, 100.0 / 3, 1e16] {
                let response = ResponsePayload(
                    model: text, content: text, latencyMs: latency, isPreliminary: latency == 0, confidence: "high",
                    usage: TokenUsage(inputTokens: 3, outputTokens: 4), reasoningSteps: latency == 0 ? nil : [text, "b"]
                )
                let payloads: [any Encodable & CanonicalWritable] = [
                    AnswerPayload(response: response, message: text, traceID: text),
                    ErrorPayload(error: text, code: "c", type: "t", retryable: true, model: latency == 0 ? nil : .pro, traceID: text),
                    DonePayload(traceID: text, status: "ok", reason: latency == 0 ? nil : text),
                ]
                for payload in payloads {
                    #expect(String(decoding: payload.canonicalJSON, as: UTF8.self) == String(decoding: try CanonicalJSON.encode(payload), as: UTF8.self))
                }
            }
        }
    }

    @Test("Reasoning steps: the first five paragraphs, as splitting the whole text would give them")
    func reasoningSteps() {
        func reference(_ content: String) -> [String] {
            Array(content.replacingOccurrences(of: "\r\n", with: "\n").components(separatedBy: "\n\n")
                .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }.prefix(5))
        }
        let samples = [
            "", "one", "a\n\nb", "a\r\n\r\nb\r\nc", "\n\n\n", "a\n\n\nb", "  \n\n x \n\n\n\n y\t\n\n",
            (1...9).map { "step \($0) é" }.joined(separator: "\n\n"), "ends with\n\n", "\u{2003}wide space\u{2003}\n\nnext",
        ]
        for sample in samples {
            #expect(FrameRenderer.reasoningSteps(sample) == reference(sample), "\(sample.debugDescription)")
        }
    }

    @Test("A request's digest is the HMAC-SHA-256, with the data dir's key, of its JSONEncoder-canonical form")
    func requestDigest() throws {
        struct Canonical: Encodable {
            var query: String
            var context: JSONValue?
        }
        let directory = try TemporaryDirectory()
        let key = try RequestDigestKey.loadOrCreate(inDataDirectory: directory.path)
        let secret = try String(contentsOfFile: directory.path + "/" + RequestDigestKey.fileName, encoding: .utf8)
        let secretBytes = stride(from: 0, to: 64, by: 2).map { offset in
            UInt8(secret.dropFirst(offset).prefix(2), radix: 16)!
        }
        for context in [nil, JSONValue.object(["é": .string("x/y"), "n": .double(0.1), "list": .array([.null, .int(-3)])])] {
            let request = RunRequest(runID: RunID("r")!, query: "what \"now\"?", context: context, client: ClientInfo(), clientChoseRunID: false)
            let canonical = try CanonicalJSON.encode(Canonical(query: request.query, context: context))
            let expected = HMAC<SHA256>.authenticationCode(for: canonical, using: SymmetricKey(data: secretBytes))
            #expect(request.digest(key: key) == expected.map { String(format: "%02x", $0) }.joined())
        }
    }
}

// The frames' shape as `Encodable`, the reference the hand-written frames are held to.

extension ResponsePayload: Encodable {
    enum CodingKeys: String, CodingKey {
        case model, content, confidence, usage
        case latencyMs = "latency_ms"
        case isPreliminary = "is_preliminary"
        case reasoningSteps = "reasoning_steps"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(model, forKey: .model)
        try container.encode(content, forKey: .content)
        try container.encode(confidence, forKey: .confidence)
        try container.encode(usage, forKey: .usage)
        try container.encode(latencyMs, forKey: .latencyMs)
        try container.encode(isPreliminary, forKey: .isPreliminary)
        try container.encodeIfPresent(reasoningSteps, forKey: .reasoningSteps)
    }
}

extension AnswerPayload: Encodable {
    enum CodingKeys: String, CodingKey {
        case response, message
        case traceID = "trace_id"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(response, forKey: .response)
        try container.encode(message, forKey: .message)
        try container.encode(traceID, forKey: .traceID)
    }
}

extension ErrorPayload: Encodable {
    enum CodingKeys: String, CodingKey {
        case error, code, type, retryable, model
        case traceID = "trace_id"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(error, forKey: .error)
        try container.encode(code, forKey: .code)
        try container.encode(type, forKey: .type)
        try container.encode(retryable, forKey: .retryable)
        try container.encode(model, forKey: .model)
        try container.encode(traceID, forKey: .traceID)
    }
}

extension DonePayload: Encodable {
    enum CodingKeys: String, CodingKey {
        case status, reason
        case traceID = "trace_id"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(status, forKey: .status)
        try container.encodeIfPresent(reason, forKey: .reason)
        try container.encode(traceID, forKey: .traceID)
    }
}

