import TandemDomain

/// The `R` object of `preliminary` and `final` frames.
struct ResponsePayload {
    var model: String
    var content: String
    var latencyMs: Double
    var isPreliminary: Bool
    var confidence: String
    var usage: TokenUsage
    var reasoningSteps: [String]?
}

/// `preliminary` and `final` payloads.
struct AnswerPayload {
    var response: ResponsePayload
    var message: String
    var traceID: String
}

/// `error` payloads; `model` is written as `null` when the run, not a model, failed.
struct ErrorPayload {
    var error: String
    var code: String
    var type: String
    var retryable: Bool
    var model: ModelRole?
    var traceID: String
}

/// `done` payloads.
struct DonePayload {
    var traceID: String
    var status: String
    var reason: String?
}

/// `delta` payloads.
struct DeltaPayload {
    var model: ModelRole
    var text: String
    var offset: Int
    var traceID: String
}

// The frames' canonical JSON, written by hand — frames are rendered for every event of every
// stream and replay. A test holds the bytes equal to JSONEncoder's (sorted keys) for the same shape.

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

extension DeltaPayload: CanonicalWritable {
    func write(_ writer: inout CanonicalWriter) {
        writer.beginObject()
        writer.key("model", model.rawValue)
        writer.key("offset", offset)
        writer.key("text", text)
        writer.key("trace_id", traceID)
        writer.endObject()
    }
}
