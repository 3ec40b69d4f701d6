public import AsyncHTTPClient
public import TandemDomain

/// A model provider that calls a real upstream over HTTP: Gemini API or an OpenAI-compatible
/// server. One shared `HTTPClient` (connection pooling), retries and a circuit breaker per model.
public struct HTTPModelProvider: ModelProvider {
    public let name: String
    private let call: @Sendable (ModelRequest, any ModelCallObserver) async throws -> ModelResponse

    /// The Gemini API: `POST {baseURL}/v1beta/models/{model}:streamGenerateContent?alt=sse` with
    /// `x-goog-api-key`.
    public static func gemini(
        apiKey: String, baseURL: String = "https://generativelanguage.googleapis.com", client: HTTPClient,
        retry: RetryPolicy = RetryPolicy(), breakers: [ModelRole: CircuitBreaker], clock: any MonotonicClock
    ) -> HTTPModelProvider {
        let base = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        let upstream = GeminiProtocol(
            url: { model in "\(base)/v1beta/models/\(model):streamGenerateContent?alt=sse" },
            auth: { ("x-goog-api-key", apiKey) }
        )
        let caller = UpstreamCaller(upstream: upstream, client: client, retry: retry, breakers: breakers, clock: clock)
        return HTTPModelProvider(name: "gemini", call: { try await caller.call($0, observer: $1) })
    }

    /// Vertex AI: `POST {baseURL}/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:streamGenerateContent?alt=sse`
    /// with a bearer token from `tokens` (`baseURL` defaults to `https://{location}-aiplatform.googleapis.com`).
    public static func vertex(
        project: String, location: String, baseURL: String?, tokens: any AccessTokenSource, client: HTTPClient,
        retry: RetryPolicy = RetryPolicy(), breakers: [ModelRole: CircuitBreaker], clock: any MonotonicClock
    ) -> HTTPModelProvider {
        let base = (baseURL ?? "https://\(location)-aiplatform.googleapis.com").trimmingSuffix("/")
        let upstream = GeminiProtocol(
            url: { model in "\(base)/v1/projects/\(project)/locations/\(location)/publishers/google/models/\(model):streamGenerateContent?alt=sse" },
            auth: { ("authorization", "Bearer \(try await tokens.token())") }
        )
        let caller = UpstreamCaller(upstream: upstream, client: client, retry: retry, breakers: breakers, clock: clock)
        return HTTPModelProvider(name: "vertex", call: { try await caller.call($0, observer: $1) })
    }

    /// An OpenAI-compatible server: `POST {baseURL}/v1/chat/completions` with `stream: true`.
    public static func openAI(
        baseURL: String, apiKey: String?, client: HTTPClient, retry: RetryPolicy = RetryPolicy(),
        breakers: [ModelRole: CircuitBreaker], clock: any MonotonicClock
    ) -> HTTPModelProvider {
        let base = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        let upstream = OpenAIProtocol(baseURL: base.hasSuffix("/v1") ? String(base.dropLast(3)) : base, apiKey: apiKey)
        let caller = UpstreamCaller(upstream: upstream, client: client, retry: retry, breakers: breakers, clock: clock)
        return HTTPModelProvider(name: "openai", call: { try await caller.call($0, observer: $1) })
    }

    public func generate(_ request: ModelRequest, observer: any ModelCallObserver) async throws -> ModelResponse {
        try await call(request, observer)
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
