public import TandemDomain

/// One event of every journal type, with every optional field set, for round-trip and schema tests.
public enum SampleEvents {
    /// The sample `run_started` (a deltas run).
    public static var runStarted: RunStarted {
        guard case .runStarted(let started) = all[0] else { preconditionFailure("the first sample is run_started") }
        return started
    }

    public static let all: [DomainEvent] = {
        var events: [DomainEvent] = [
            .runStarted(RunStarted(
                query: "Why is the sky blue? ⚡ \"quoted\" / slash",
                context: .object(["user": .string("u1"), "n": .int(3), "ratio": .double(0.5), "tags": .array([.bool(true), .null])]),
                client: ClientInfo(ip: "127.0.0.1", userAgent: "curl/8", keyID: "0123456789abcdef"),
                config: RunConfig(
                    flashModel: "gemini-2.5-flash", proModel: "gemini-2.5-pro", flashTimeoutS: 5, proTimeoutS: 45,
                    provider: "scripted", redaction: "default-v1", onFlashFailure: "continue", stream: "deltas"
                ),
                requestDigest: String(repeating: "ab", count: 32)
            )),
            .clientDisconnected(ClientDisconnected(elapsedMs: 12.5)),
            .runAborted(RunAborted(reason: "process ended without done")),
            .done(RunDone(status: .partial, durationMs: 2501.25)),
        ]
        for role in ModelRole.allCases {
            events += [
                .modelStarted(role, ModelStarted(model: "m-\(role)", attempt: 1)),
                .firstToken(role, FirstToken(afterMs: 101.5)),
                .modelCompleted(role, ModelCompleted(
                    model: "m-\(role)-001", content: "Line one.\n\nLine two — ünïcode.",
                    usage: TokenUsage(inputTokens: 12, outputTokens: 34), latencyMs: 400.25, ttftMs: 101.5,
                    finishReason: "STOP", providerRequestID: "req-1"
                )),
.modelDelta(role, ModelDelta(text: "Line two — ü", offset: 11)),
                .modelRetry(role, ModelRetry(attempt: 2, delayMs: 250, errorClass: "upstream_http_5xx", httpStatus: 503)),
                .modelTimeout(role, ModelTimeout(timeoutS: 5, phase: .firstToken, elapsedMs: 5000.01)),
                .modelFailed(role, ModelFailed(errorClass: "upstream_http_4xx", message: "bad request", httpStatus: 400, retryable: false)),
                .modelCancelled(role, ModelCancelled(reason: .superseded)),
            ]
        }
        return events
    }()
}
