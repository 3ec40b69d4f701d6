// Hand-written canonical encodings of the payloads: the bytes `CanonicalJSON.encode` (JSONEncoder,
// sorted keys) gives — a test holds them equal — at a fraction of the cost, since every event of
// every run is encoded on the hot path. Keys are written in sorted order; absent optionals are
// omitted, as the synthesized `Encodable` conformances omit them.

/// A value that writes its own canonical JSON.
package protocol CanonicalWritable {
    func write(_ writer: inout CanonicalWriter)
}

extension CanonicalWritable {
    /// The value's canonical JSON.
    package var canonicalJSON: [UInt8] {
        var writer = CanonicalWriter(capacity: 256)
        write(&writer)
        return writer.bytes
    }
}

extension DomainEvent {
    /// The event's payload as canonical JSON (the journal entry's `data`).
    /// - Throws: `EncodingError` for a number JSON cannot hold (NaN, infinity).
    public func encodedData() throws -> [UInt8] {
        var writer = CanonicalWriter(capacity: 256)
        switch self {
        case .runStarted(let payload): payload.write(&writer)
        case .modelStarted(_, let payload): payload.write(&writer)
        case .firstToken(_, let payload): payload.write(&writer)
        case .modelCompleted(_, let payload): payload.write(&writer)
        case .modelDelta(_, let payload): payload.write(&writer)
        case .modelRetry(_, let payload): payload.write(&writer)
        case .modelTimeout(_, let payload): payload.write(&writer)
        case .modelFailed(_, let payload): payload.write(&writer)
        case .modelCancelled(_, let payload): payload.write(&writer)
        case .clientDisconnected(let payload): payload.write(&writer)
        case .runAborted(let payload): payload.write(&writer)
        case .done(let payload): payload.write(&writer)
        }
        guard !writer.hasInvalidNumber else {
            throw EncodingError.invalidValue(Double.nan, EncodingError.Context(codingPath: [], debugDescription: "a number is not finite"))
        }
        return writer.bytes
    }
}

extension CanonicalWriter {
    package mutating func key(_ name: StaticString, _ value: String) {
        key(name)
        string(value)
    }

    package mutating func key(_ name: StaticString, _ value: Double) {
        key(name)
        double(value)
    }

    package mutating func key(_ name: StaticString, _ value: Int) {
        key(name)
        int(value)
    }

    package mutating func key(_ name: StaticString, _ value: Bool) {
        key(name)
        bool(value)
    }

    /// Writes the member only when `value` is present.
    package mutating func keyIfPresent(_ name: StaticString, _ value: String?) {
        if let value { key(name, value) }
    }

    package mutating func keyIfPresent(_ name: StaticString, _ value: Double?) {
        if let value { key(name, value) }
    }

    package mutating func keyIfPresent(_ name: StaticString, _ value: Int?) {
        if let value { key(name, value) }
    }
}

extension JSONValue {
    package func write(_ writer: inout CanonicalWriter) {
        switch self {
        case .null: writer.null()
        case .bool(let value): writer.bool(value)
        case .int(let value): writer.int(Int(value))
        case .double(let value): writer.double(value)
        case .string(let value): writer.string(value)
        case .array(let values):
            writer.beginArray()
            for value in values { value.write(&writer) }
            writer.endArray()
        case .object(let members):
            writer.beginObject()
            // JSONEncoder's `sortedKeys` order: by UTF-8 bytes (not by `String`'s `<`).
            for key in members.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
                writer.key(escaping: key)
                members[key]!.write(&writer)
            }
            writer.endObject()
        }
    }
}

extension ClientInfo {
    func write(_ writer: inout CanonicalWriter) {
        writer.beginObject()
        writer.keyIfPresent("ip", ip)
        writer.keyIfPresent("key_id", keyID)
        writer.keyIfPresent("user_agent", userAgent)
        writer.endObject()
    }
}

extension RunConfig {
    func write(_ writer: inout CanonicalWriter) {
        writer.beginObject()
        if let flashFirstTokenTimeoutS { writer.key("flash_first_token_timeout_s", flashFirstTokenTimeoutS) }
        if let flashIdleTimeoutS { writer.key("flash_idle_timeout_s", flashIdleTimeoutS) }
        writer.key("flash_model", flashModel)
        writer.key("flash_timeout_s", flashTimeoutS)
        writer.key("on_flash_failure", onFlashFailure)
        if let proFirstTokenTimeoutS { writer.key("pro_first_token_timeout_s", proFirstTokenTimeoutS) }
        if let proIdleTimeoutS { writer.key("pro_idle_timeout_s", proIdleTimeoutS) }
        writer.key("pro_model", proModel)
        writer.key("pro_timeout_s", proTimeoutS)
        writer.key("provider", provider)
        writer.key("redaction", redaction)
        writer.keyIfPresent("stream", stream)
        writer.endObject()
    }
}

extension RunStarted {
    func write(_ writer: inout CanonicalWriter) {
        writer.beginObject()
        writer.key("client")
        client.write(&writer)
        writer.key("config")
        config.write(&writer)
        if let context {
            writer.key("context")
            context.write(&writer)
        }
        writer.key("query", query)
        writer.key("request_digest", requestDigest)
        writer.endObject()
    }
}

extension ModelStarted {
    func write(_ writer: inout CanonicalWriter) {
        writer.beginObject()
        writer.key("attempt", attempt)
        writer.key("model", model)
        writer.endObject()
    }
}

extension FirstToken {
    func write(_ writer: inout CanonicalWriter) {
        writer.beginObject()
        writer.key("after_ms", afterMs)
        writer.endObject()
    }
}

extension TokenUsage {
    package func write(_ writer: inout CanonicalWriter) {
        writer.beginObject()
        writer.key("input_tokens", inputTokens)
        writer.key("output_tokens", outputTokens)
        writer.endObject()
    }
}

extension ModelCompleted {
    func write(_ writer: inout CanonicalWriter) {
        writer.beginObject()
        writer.key("content", content)
        writer.keyIfPresent("finish_reason", finishReason)
        writer.key("latency_ms", latencyMs)
        writer.key("model", model)
        writer.keyIfPresent("provider_request_id", providerRequestID)
        writer.keyIfPresent("ttft_ms", ttftMs)
        writer.key("usage")
        usage.write(&writer)
        writer.endObject()
    }
}

extension ModelDelta {
    func write(_ writer: inout CanonicalWriter) {
        writer.beginObject()
        writer.key("offset", offset)
        writer.key("text", text)
        writer.endObject()
    }
}

extension ModelRetry {
    func write(_ writer: inout CanonicalWriter) {
        writer.beginObject()
        writer.key("attempt", attempt)
        writer.key("delay_ms", delayMs)
        writer.key("error_class", errorClass)
        writer.keyIfPresent("http_status", httpStatus)
        writer.endObject()
    }
}

extension ModelTimeout {
    func write(_ writer: inout CanonicalWriter) {
        writer.beginObject()
        writer.key("elapsed_ms", elapsedMs)
        writer.key("phase", phase.rawValue)
        writer.key("timeout_s", timeoutS)
        writer.endObject()
    }
}

extension ModelFailed {
    func write(_ writer: inout CanonicalWriter) {
        writer.beginObject()
        writer.key("error_class", errorClass)
        writer.keyIfPresent("http_status", httpStatus)
        writer.key("message", message)
        writer.key("retryable", retryable)
        writer.endObject()
    }
}

extension ModelCancelled {
    func write(_ writer: inout CanonicalWriter) {
        writer.beginObject()
        writer.key("reason", reason.rawValue)
        writer.endObject()
    }
}

extension ClientDisconnected {
    func write(_ writer: inout CanonicalWriter) {
        writer.beginObject()
        writer.key("elapsed_ms", elapsedMs)
        writer.endObject()
    }
}

extension RunAborted {
    func write(_ writer: inout CanonicalWriter) {
        writer.beginObject()
        writer.key("reason", reason)
        writer.endObject()
    }
}

extension RunDone {
    func write(_ writer: inout CanonicalWriter) {
        writer.beginObject()
        writer.key("duration_ms", durationMs)
        writer.key("status", status.rawValue)
        writer.endObject()
    }
}
