/// Which of the two models of a run an event concerns.
public enum ModelRole: String, Sendable, Codable, CaseIterable, Hashable {
    /// The fast model: the preliminary answer.
    case flash
    /// The strong model: the verified final answer.
    case pro
}

/// Who asked: the client's address, user agent and a non-reversible id of the API key used.
public struct ClientInfo: Sendable, Codable, Equatable {
    public var ip: String?
    public var userAgent: String?
    public var keyID: String?

    public init(ip: String? = nil, userAgent: String? = nil, keyID: String? = nil) {
        self.ip = ip
        self.userAgent = userAgent
        self.keyID = keyID
    }

    enum CodingKeys: String, CodingKey {
        case ip
        case userAgent = "user_agent"
        case keyID = "key_id"
    }
}

/// The settings a run was started with.
public struct RunConfig: Sendable, Codable, Equatable {
    public var flashModel: String
    public var proModel: String
    public var flashTimeoutS: Double
    public var proTimeoutS: Double
    /// The provider's name; `scripted` runs say so here (simulated models).
    public var provider: String
    /// The redaction policy applied before journaling (`off` when disabled).
    public var redaction: String
    /// What a Flash failure does to Pro: `continue` or `cancel_pro`.
    public var onFlashFailure: String
    /// The first-token and idle deadlines, when configured (absent when off, so runs without
    /// them journal the same bytes as before these fields existed).
    public var flashFirstTokenTimeoutS: Double?
    public var flashIdleTimeoutS: Double?
    public var proFirstTokenTimeoutS: Double?
    public var proIdleTimeoutS: Double?
    /// The frames the run streams (``StreamMode``'s raw value); absent in runs journaled before
    /// deltas existed, which streamed answers.
    public var stream: String?

    public init(
        flashModel: String, proModel: String, flashTimeoutS: Double, proTimeoutS: Double,
        provider: String, redaction: String, onFlashFailure: String,
        flashFirstTokenTimeoutS: Double? = nil, flashIdleTimeoutS: Double? = nil,
        proFirstTokenTimeoutS: Double? = nil, proIdleTimeoutS: Double? = nil, stream: String? = nil
    ) {
        self.flashModel = flashModel
        self.proModel = proModel
        self.flashTimeoutS = flashTimeoutS
        self.proTimeoutS = proTimeoutS
        self.provider = provider
        self.redaction = redaction
        self.onFlashFailure = onFlashFailure
        self.flashFirstTokenTimeoutS = flashFirstTokenTimeoutS
        self.flashIdleTimeoutS = flashIdleTimeoutS
        self.proFirstTokenTimeoutS = proFirstTokenTimeoutS
        self.proIdleTimeoutS = proIdleTimeoutS
        self.stream = stream
    }

    enum CodingKeys: String, CodingKey {
        case flashModel = "flash_model"
        case proModel = "pro_model"
        case flashTimeoutS = "flash_timeout_s"
        case proTimeoutS = "pro_timeout_s"
        case provider
        case redaction
        case onFlashFailure = "on_flash_failure"
        case flashFirstTokenTimeoutS = "flash_first_token_timeout_s"
        case flashIdleTimeoutS = "flash_idle_timeout_s"
        case proFirstTokenTimeoutS = "pro_first_token_timeout_s"
        case proIdleTimeoutS = "pro_idle_timeout_s"
        case stream
    }
}

/// Which frames a run streams (request field `stream`, SPEC §10).
public enum StreamMode: String, Sendable, CaseIterable {
    /// `preliminary`, `final`, `error`, `done` only (the default, today's frames).
    case answers
    /// Also a `delta` frame for each journaled piece of an answer.
    case deltas
}

/// `run_started`: the request as journaled (after redaction) and how the run will be carried out.
public struct RunStarted: Sendable, Codable, Equatable {
    public var query: String
    public var context: JSONValue?
    public var client: ClientInfo
    public var config: RunConfig
    /// SHA-256 (hex) of the canonical request, for idempotency checks.
    public var requestDigest: String

    public init(query: String, context: JSONValue?, client: ClientInfo, config: RunConfig, requestDigest: String) {
        self.query = query
        self.context = context
        self.client = client
        self.config = config
        self.requestDigest = requestDigest
    }

    enum CodingKeys: String, CodingKey {
        case query, context, client, config
        case requestDigest = "request_digest"
    }
}

/// `flash_started` / `pro_started`: one attempt at calling a model begins.
public struct ModelStarted: Sendable, Codable, Equatable {
    public var model: String
    public var attempt: Int

    public init(model: String, attempt: Int) {
        self.model = model
        self.attempt = attempt
    }
}

/// `flash_first_token` / `pro_first_token`: the first streamed content arrived.
public struct FirstToken: Sendable, Codable, Equatable {
    public var afterMs: Double

    public init(afterMs: Double) {
        self.afterMs = afterMs
    }

    enum CodingKeys: String, CodingKey {
        case afterMs = "after_ms"
    }
}

/// Token counts reported by the provider.
public struct TokenUsage: Sendable, Codable, Equatable {
    public var inputTokens: Int
    public var outputTokens: Int

    /// The largest token count journaled: what an upstream reports is clamped to
    /// `0...maximumCount` (far above any real call, far below any sum that could overflow).
    public static let maximumCount = Int(UInt32.max)

    public init(inputTokens: Int, outputTokens: Int) {
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
    }

    enum CodingKeys: String, CodingKey {
        case inputTokens = "input_tokens"
        case outputTokens = "output_tokens"
    }
}

/// `flash_delta` / `pro_delta`: a piece of a model's answer, journaled before its frame is sent.
/// A model's delta texts in seq order concatenate to its `*_completed.content`.
public struct ModelDelta: Sendable, Codable, Equatable {
    /// The (redacted) text; never splits a UTF-8 character.
    public var text: String
    /// UTF-8 bytes of the model's journaled answer before `text`.
    public var offset: Int

    public init(text: String, offset: Int) {
        self.text = text
        self.offset = offset
    }
}

/// `flash_completed` / `pro_completed`: the model's whole answer.
public struct ModelCompleted: Sendable, Codable, Equatable {
    /// The served model id (with version where the provider reports one).
    public var model: String
    public var content: String
    public var usage: TokenUsage
    public var latencyMs: Double
    public var ttftMs: Double?
    public var finishReason: String?
    public var providerRequestID: String?

    public init(
        model: String, content: String, usage: TokenUsage, latencyMs: Double,
        ttftMs: Double? = nil, finishReason: String? = nil, providerRequestID: String? = nil
    ) {
        self.model = model
        self.content = content
        self.usage = usage
        self.latencyMs = latencyMs
        self.ttftMs = ttftMs
        self.finishReason = finishReason
        self.providerRequestID = providerRequestID
    }

    enum CodingKeys: String, CodingKey {
        case model, content, usage
        case latencyMs = "latency_ms"
        case ttftMs = "ttft_ms"
        case finishReason = "finish_reason"
        case providerRequestID = "provider_request_id"
    }
}

/// `flash_retry` / `pro_retry`: an attempt failed with a retryable error; the next one starts after a delay.
public struct ModelRetry: Sendable, Codable, Equatable {
    public var attempt: Int
    public var delayMs: Double
    public var errorClass: String
    public var httpStatus: Int?

    public init(attempt: Int, delayMs: Double, errorClass: String, httpStatus: Int? = nil) {
        self.attempt = attempt
        self.delayMs = delayMs
        self.errorClass = errorClass
        self.httpStatus = httpStatus
    }

    enum CodingKeys: String, CodingKey {
        case attempt
        case delayMs = "delay_ms"
        case errorClass = "error_class"
        case httpStatus = "http_status"
    }
}

/// Which deadline expired.
public enum TimeoutPhase: String, Sendable, Codable, CaseIterable {
    /// No first token within the first-token deadline.
    case firstToken = "first_token"
    /// Too long a gap between streamed chunks.
    case idle
    /// The whole call exceeded its total deadline.
    case total
}

/// `flash_timeout` / `pro_timeout`: a deadline expired and the call was cancelled.
public struct ModelTimeout: Sendable, Codable, Equatable {
    public var timeoutS: Double
    public var phase: TimeoutPhase
    public var elapsedMs: Double

    public init(timeoutS: Double, phase: TimeoutPhase, elapsedMs: Double) {
        self.timeoutS = timeoutS
        self.phase = phase
        self.elapsedMs = elapsedMs
    }

    enum CodingKeys: String, CodingKey {
        case timeoutS = "timeout_s"
        case phase
        case elapsedMs = "elapsed_ms"
    }
}

/// `flash_failed` / `pro_failed`: the call failed for good.
public struct ModelFailed: Sendable, Codable, Equatable {
    public var errorClass: String
    public var message: String
    public var httpStatus: Int?
    public var retryable: Bool

    public init(errorClass: String, message: String, httpStatus: Int? = nil, retryable: Bool) {
        self.errorClass = errorClass
        self.message = message
        self.httpStatus = httpStatus
        self.retryable = retryable
    }

    enum CodingKeys: String, CodingKey {
        case errorClass = "error_class"
        case message
        case httpStatus = "http_status"
        case retryable
    }
}

/// Why a model call was cancelled.
public enum CancellationReason: String, Sendable, Codable, CaseIterable {
    /// The other model's answer made this one unnecessary (Pro finished before Flash).
    case superseded
    /// The client went away.
    case clientDisconnected = "client_disconnected"
    /// The other model failed and the policy cancels this one.
    case siblingFailed = "sibling_failed"
    /// The server is shutting down.
    case shutdown
}

/// `flash_cancelled` / `pro_cancelled`.
public struct ModelCancelled: Sendable, Codable, Equatable {
    public var reason: CancellationReason

    public init(reason: CancellationReason) {
        self.reason = reason
    }
}

/// `client_disconnected`: the client closed the stream before `done`.
public struct ClientDisconnected: Sendable, Codable, Equatable {
    public var elapsedMs: Double

    public init(elapsedMs: Double) {
        self.elapsedMs = elapsedMs
    }

    enum CodingKeys: String, CodingKey {
        case elapsedMs = "elapsed_ms"
    }
}

/// `run_aborted`: appended at start-up for a run a crash left without `done`.
public struct RunAborted: Sendable, Codable, Equatable {
    public var reason: String

    public init(reason: String) {
        self.reason = reason
    }
}

/// How a run ended.
public enum RunStatus: String, Sendable, Codable, CaseIterable {
    /// Pro answered (Flash too, or was superseded).
    case ok
    /// One model answered, the other failed or timed out.
    case partial
    /// Neither answered and at least one timed out.
    case timeout
    /// Neither answered, failures only.
    case error
    /// The client went away or the server shut down before an answer.
    case cancelled
}

/// `done`: the run is over; always its last event.
public struct RunDone: Sendable, Codable, Equatable {
    public var status: RunStatus
    public var durationMs: Double

    public init(status: RunStatus, durationMs: Double) {
        self.status = status
        self.durationMs = durationMs
    }

    enum CodingKeys: String, CodingKey {
        case status
        case durationMs = "duration_ms"
    }
}
