import TandemDomain
/// One model's part of a run, as audited.
public struct ModelTrace: Sendable, Equatable {
    /// The configured model id.
    public var model: String?
    /// The model id the upstream reported serving (with version).
    public var version: String?
    public var requestID: String?
    public var promptTokens: Int?
    public var completionTokens: Int?
    public var latencyMs: Double?
    public var ttftMs: Double?
    public var error: String?
    public var errorClass: String?
    public var outcome: ModelOutcome = .pending
    public var startedAt: String?
    public var endedAt: String?
    /// Attempts made (retries included).
    public var attempts: Int = 0
    /// The seq of the `*_completed` entry holding the answer: answers stay in the journal (the
    /// source of truth) instead of being copied into every record.
    public var completedSeq: UInt64?
    /// UTF-8 bytes of the answer journaled as deltas (what a client had been shown); `nil` for
    /// runs that stream answers.
    public var streamedBytes: Int?

    public init() {}

    func write(_ writer: inout CanonicalWriter) {
        writer.beginObject()
        writer.field("attempts", attempts)
        writer.field("completed_seq", completedSeq.map(Int.init))
        writer.field("completion_tokens", completionTokens)
        writer.field("ended_at", endedAt)
        writer.field("error", error)
        writer.field("error_class", errorClass)
        writer.field("latency_ms", latencyMs)
        writer.field("model", model)
        writer.field("outcome", outcome.rawValue)
        writer.field("prompt_tokens", promptTokens)
        writer.field("request_id", requestID)
        writer.field("started_at", startedAt)
        if let streamedBytes { writer.key("streamed_bytes", streamedBytes) }
        writer.field("ttft_ms", ttftMs)
        writer.field("version", version)
        writer.endObject()
    }

    init?(_ fields: JSONFields?) {
        guard let fields else { return nil }
        attempts = fields.int("attempts") ?? 0
        completedSeq = fields.int("completed_seq").map(UInt64.init)
        completionTokens = fields.int("completion_tokens")
        endedAt = fields.string("ended_at")
        error = fields.string("error")
        errorClass = fields.string("error_class")
        latencyMs = fields.double("latency_ms")
        model = fields.string("model")
        outcome = fields.string("outcome").flatMap(ModelOutcome.init(rawValue:)) ?? .pending
        promptTokens = fields.int("prompt_tokens")
        requestID = fields.string("request_id")
        startedAt = fields.string("started_at")
        streamedBytes = fields.int("streamed_bytes")
        ttftMs = fields.double("ttft_ms")
        version = fields.string("version")
    }
}

/// The audit record of one run (SPEC §4), folded from its journal entries.
public struct DualRunRecord: Sendable, Equatable {
    public var runID: String
    /// The query as its JSON string literal (kept raw, like answers).
    public var queryJSON: [UInt8]?
    /// The request's context object as canonical JSON bytes (kept raw: it is the client's shape).
    public var contextJSON: [UInt8]?
    public var flash: ModelTrace?
    public var pro: ModelTrace?
    public var status: RunRecordStatus = .running
    public var startedAt: String?
    public var endedAt: String?
    public var durationMs: Double?
    public var firstSeq: UInt64
    public var lastSeq: UInt64
    /// How many journal entries the run has.
    public var events: Int = 0
    public var clientDisconnected = false

    public init(runID: String, firstSeq: UInt64) {
        self.runID = runID
        self.firstSeq = firstSeq
        self.lastSeq = firstSeq
    }

    /// The query.
    public var query: String? { queryJSON.flatMap { JSONFields.decodeString($0[...]) } }

    /// Whether the run has ended.
    public var isTerminal: Bool { status != .running }

    /// The `user_id` the old audit table had: the context's `user_id`, if a string.
    public var userID: String? {
        guard let contextJSON else { return nil }
        return JSONFields(contextJSON[...])?.string("user_id")
    }

    /// The record as canonical JSON (the API's and the store's form).
    public var json: [UInt8] {
        var writer = CanonicalWriter()
        writer.beginObject()
        writer.key("client_disconnected")
        writer.bool(clientDisconnected)
        writer.field("duration_ms", durationMs)
        writer.field("ended_at", endedAt)
        writer.key("events")
        writer.int(events)
        writer.key("first_seq")
        writer.uint(firstSeq)
        writer.key("flash")
        if let flash { flash.write(&writer) } else { writer.null() }
        writer.key("input")
        writer.beginObject()
        writer.key("context")
        if let contextJSON { writer.raw(contextJSON) } else { writer.null() }
        writer.key("query")
        if let queryJSON { writer.raw(queryJSON) } else { writer.null() }
        writer.endObject()
        writer.key("last_seq")
        writer.uint(lastSeq)
        writer.key("pro")
        if let pro { pro.write(&writer) } else { writer.null() }
        writer.field("run_id", runID)
        writer.field("started_at", startedAt)
        writer.field("status", status.rawValue)
        writer.endObject()
        return writer.bytes
    }

    /// Reads a record back from its JSON form.
    public init?(json: [UInt8]) {
        guard let fields = JSONFields(json[...]), let runID = fields.string("run_id") else { return nil }
        self.runID = runID
        clientDisconnected = fields.bool("client_disconnected") ?? false
        durationMs = fields.double("duration_ms")
        endedAt = fields.string("ended_at")
        events = fields.int("events") ?? 0
        firstSeq = fields.uint("first_seq") ?? 0
        lastSeq = fields.uint("last_seq") ?? 0
        flash = ModelTrace(fields.isNull("flash") ? nil : fields.object("flash"))
        pro = ModelTrace(fields.isNull("pro") ? nil : fields.object("pro"))
        let input = fields.object("input")
        if let input, !input.isNull("query"), let raw = input.raw("query") { queryJSON = Array(raw) }
        if let input, !input.isNull("context"), let raw = input.raw("context") { contextJSON = Array(raw) }
        startedAt = fields.string("started_at")
        status = fields.string("status").flatMap(RunRecordStatus.init(rawValue:)) ?? .running
    }
}
