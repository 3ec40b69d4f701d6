package import TandemJournal

/// The fold rules of ``DualRunRecord``: how each journal event changes its run's record.
///
/// Pure: the record after an event depends only on the record before and the entry, so a rebuild
/// from seq 1 gives the same records as the live projection.
package enum RecordFold {
    /// Applies `entry` (which must belong to `record`'s run) to `record`.
    package static func apply(_ entry: JournalEntry, to record: inout DualRunRecord) {
        apply(entry, type: entry.type, data: JSONFields(entry.data), to: &record)
    }

    /// Applies `entry` whose type and payload fields the caller already read.
    static func apply(_ entry: JournalEntry, type: String, data: JSONFields?, to record: inout DualRunRecord) {
        record.lastSeq = entry.seq
        record.events += 1
        let ts = entry.timestamp
        switch type {
        case "run_started":
            record.firstSeq = min(record.firstSeq, entry.seq)
            if let raw = data?.raw("query") { record.queryJSON = Array(raw) }
            if let data, !data.isNull("context"), let raw = data.raw("context") { record.contextJSON = Array(raw) }
            record.startedAt = ts
            let config = data?.object("config")
            record.flash = record.flash ?? ModelTrace()
            record.pro = record.pro ?? ModelTrace()
            record.flash?.model = config?.string("flash_model")
            record.pro?.model = config?.string("pro_model")
        case "client_disconnected":
            record.clientDisconnected = true
        case "run_aborted":
            record.status = "aborted"
            record.endedAt = ts
        case "done":
            record.status = data?.string("status") ?? "error"
            record.durationMs = data?.double("duration_ms")
            record.endedAt = ts
        default:
            guard let separator = type.firstIndex(of: "_") else { return }
            let role = type[..<separator]
            let kind = type[type.index(after: separator)...]
            guard role == "flash" || role == "pro" else { return }
            var trace = (role == "flash" ? record.flash : record.pro) ?? ModelTrace()
            applyModelEvent(String(kind), data, ts: ts, to: &trace)
            if kind == "completed" { trace.completedSeq = entry.seq }
            if role == "flash" { record.flash = trace } else { record.pro = trace }
        }
    }

    private static func applyModelEvent(_ kind: String, _ data: JSONFields?, ts: String, to trace: inout ModelTrace) {
        switch kind {
        case "started":
            if trace.startedAt == nil { trace.startedAt = ts }
            trace.attempts = max(trace.attempts, data?.int("attempt") ?? 1)
            if let model = data?.string("model") { trace.model = model }
            trace.outcome = "running"
        case "first_token":
            trace.ttftMs = data?.double("after_ms")
        case "completed":
            trace.version = data?.string("model")
            let usage = data?.object("usage")
            trace.promptTokens = usage?.int("input_tokens")
            trace.completionTokens = usage?.int("output_tokens")
            trace.latencyMs = data?.double("latency_ms")
            if let ttft = data?.double("ttft_ms") { trace.ttftMs = ttft }
            trace.requestID = data?.string("provider_request_id")
            trace.outcome = "completed"
            trace.endedAt = ts
        case "timeout":
            let phase = data?.string("phase") ?? "total"
            trace.outcome = "timeout"
            trace.errorClass = "timeout_\(phase)"
            trace.error = "\(phase) deadline of \(format(data?.double("timeout_s") ?? 0)) s expired after \(format(data?.double("elapsed_ms") ?? 0)) ms"
            trace.endedAt = ts
        case "failed":
            trace.outcome = "failed"
            trace.errorClass = data?.string("error_class")
            trace.error = data?.string("message")
            trace.endedAt = ts
        case "cancelled":
            trace.outcome = "cancelled"
            trace.errorClass = "cancelled"
            trace.error = data?.string("reason")
            trace.endedAt = ts
        default:
            break
        }
    }

    private static func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int64(value)) : String(value)
    }
}
