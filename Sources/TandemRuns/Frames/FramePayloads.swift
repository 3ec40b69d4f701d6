import TandemDomain

/// The `R` object of `preliminary` and `final` frames.
struct ResponsePayload: Encodable {
    var model: String
    var content: String
    var latencyMs: Double
    var isPreliminary: Bool
    var confidence: String
    var usage: TokenUsage
    var reasoningSteps: [String]?

    enum CodingKeys: String, CodingKey {
        case model, content, confidence, usage
        case latencyMs = "latency_ms"
        case isPreliminary = "is_preliminary"
        case reasoningSteps = "reasoning_steps"
    }
}

/// `preliminary` and `final` payloads.
struct AnswerPayload: Encodable {
    var response: ResponsePayload
    var message: String
    var traceID: String

    enum CodingKeys: String, CodingKey {
        case response, message
        case traceID = "trace_id"
    }
}

/// `error` payloads.
struct ErrorPayload: Encodable {
    var error: String
    var code: String
    var type: String
    var retryable: Bool
    var model: ModelRole?
    var traceID: String

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
        try container.encode(model, forKey: .model)  // explicit null when the run, not a model, failed
        try container.encode(traceID, forKey: .traceID)
    }
}

/// `done` payloads.
struct DonePayload: Encodable {
    var traceID: String
    var status: String
    var reason: String?

    enum CodingKeys: String, CodingKey {
        case status, reason
        case traceID = "trace_id"
    }
}

// The frames' canonical JSON, written by hand (the bytes `CanonicalJSON.encode` gives; a test
// holds them equal): frames are rendered for every event of every stream and replay.

extension ResponsePayload: CanonicalWritable {
    func write(_ writer: inout CanonicalWriter) {
        writer.beginObject()
        writer.key("confidence", confidence)
        writer.key("content", content)
        writer.key("is_preliminary", isPreliminary)
        writer.key("latency_ms", latencyMs)
        writer.key("model", model)
        if let reasoningSteps {
            writer.key("reasoning_steps")
            writer.beginArray()
            for step in reasoningSteps { writer.string(step) }
            writer.endArray()
        }
        writer.key("usage")
        usage.write(&writer)
        writer.endObject()
    }
}

extension AnswerPayload: CanonicalWritable {
    func write(_ writer: inout CanonicalWriter) {
        writer.beginObject()
        writer.key("message", message)
        writer.key("response")
        response.write(&writer)
        writer.key("trace_id", traceID)
        writer.endObject()
    }
}

extension ErrorPayload: CanonicalWritable {
    func write(_ writer: inout CanonicalWriter) {
        writer.beginObject()
        writer.key("code", code)
        writer.key("error", error)
        writer.key("model")
        if let model { writer.string(model.rawValue) } else { writer.null() }
        writer.key("retryable", retryable)
        writer.key("trace_id", traceID)
        writer.key("type", type)
        writer.endObject()
    }
}

extension DonePayload: CanonicalWritable {
    func write(_ writer: inout CanonicalWriter) {
        writer.beginObject()
        writer.keyIfPresent("reason", reason)
        writer.key("status", status)
        writer.key("trace_id", traceID)
        writer.endObject()
    }
}
