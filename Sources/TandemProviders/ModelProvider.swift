public import TandemDomain

/// A source of model answers: the scripted simulator or a real upstream API.
///
/// One call answers one model role of one run. It runs in a child task of the run, so cancelling
/// that task (deadline, client gone, superseded, shutdown) must stop the call at once — for HTTP
/// providers, by closing the upstream connection.
public protocol ModelProvider: Sendable {
    /// The provider's name as journaled in `run_started.config.provider`.
    var name: String { get }

    /// Asks the model and returns its whole answer.
    /// - Parameters:
    ///   - request: what to ask, and of which model.
    ///   - observer: told of attempts, retries and streamed text as they happen.
    /// - Throws: ``ProviderError`` when the call fails for good; `CancellationError` when cancelled.
    func generate(_ request: ModelRequest, observer: any ModelCallObserver) async throws -> ModelResponse
}

/// Receives progress of a model call while it runs. Calls come from the call's own task, in order.
public protocol ModelCallObserver: Sendable {
    /// An attempt (1, 2, …) is about to be sent upstream.
    func attemptStarted(_ attempt: Int) async
    /// An attempt failed with a retryable error; the next starts after `delayMs`.
    func retrying(_ retry: ModelRetry) async
    /// A piece of the answer arrived (the first call marks the first token).
    func received(_ text: String) async
}

/// Sampling settings for one model call (the old service's values are the defaults).
public struct GenerationSettings: Sendable, Equatable {
    public var temperature: Double
    public var maxOutputTokens: Int
    public var topP: Double

    public init(temperature: Double, maxOutputTokens: Int, topP: Double) {
        self.temperature = temperature
        self.maxOutputTokens = maxOutputTokens
        self.topP = topP
    }

    /// Flash: temperature 0.7, 1,024 output tokens, top_p 0.9.
    public static let flash = GenerationSettings(temperature: 0.7, maxOutputTokens: 1_024, topP: 0.9)
    /// Pro: temperature 0.2, 8,192 output tokens, top_p 0.95.
    public static let pro = GenerationSettings(temperature: 0.2, maxOutputTokens: 8_192, topP: 0.95)
}

/// What one model call asks.
public struct ModelRequest: Sendable, Equatable {
    /// Which of the two models this is.
    public var role: ModelRole
    /// The configured model id (e.g. `gemini-2.5-flash`).
    public var model: String
    /// The user's question.
    public var query: String
    /// The client's context object, if any.
    public var context: JSONValue?
    /// Sampling settings.
    public var settings: GenerationSettings
    /// The run, for upstream request tagging and logs.
    public var runID: String
    /// When the call's total deadline expires (time since the clock's origin): retries never
    /// sleep past it.
    public var deadline: Duration?

    public init(
        role: ModelRole, model: String, query: String, context: JSONValue?, settings: GenerationSettings, runID: String,
        deadline: Duration? = nil
    ) {
        self.role = role
        self.model = model
        self.query = query
        self.context = context
        self.settings = settings
        self.runID = runID
        self.deadline = deadline
    }

    /// The prompt sent upstream: the question, then the context as JSON when there is one.
    public var prompt: String {
        guard let context else { return query }
        var json = CanonicalWriter()
        context.write(&json)
        guard !json.hasInvalidNumber else { return query }
        return query + "\n\nContext (JSON): " + String(decoding: json.bytes, as: UTF8.self)
    }
}

/// A model's whole answer.
public struct ModelResponse: Sendable, Equatable {
    /// The model id the upstream says served the answer (with version when reported).
    public var servedModel: String
    public var content: String
    public var usage: TokenUsage
    public var finishReason: String?
    public var providerRequestID: String?

    public init(servedModel: String, content: String, usage: TokenUsage, finishReason: String? = nil, providerRequestID: String? = nil) {
        self.servedModel = servedModel
        self.content = content
        self.usage = usage
        self.finishReason = finishReason
        self.providerRequestID = providerRequestID
    }
}

/// A model call that failed for good: what kind of failure, for metrics and the client.
public struct ProviderError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A stable class, e.g. `upstream_http_4xx`, `upstream_http_5xx`, `upstream_protocol`,
    /// `upstream_connection`, `upstream_blocked`, `circuit_open`, `scripted_failure`.
    public var errorClass: String
    /// A human sentence (redacted before it is journaled).
    public var message: String
    /// The upstream HTTP status, when there was one.
    public var httpStatus: Int?
    /// Whether asking again later may succeed.
    public var retryable: Bool
    /// How long the upstream asked us to wait (`Retry-After`).
    public var retryAfter: Duration?

    public init(errorClass: String, message: String, httpStatus: Int? = nil, retryable: Bool, retryAfter: Duration? = nil) {
        self.errorClass = errorClass
        self.message = message
        self.httpStatus = httpStatus
        self.retryable = retryable
        self.retryAfter = retryAfter
    }

    public var description: String { "\(errorClass): \(message)" }
}
