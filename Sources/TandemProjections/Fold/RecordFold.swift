import TandemDomain
package import TandemJournal

/// The fold rules of ``DualRunRecord``: how each journal event changes its run's record.
///
/// Pure: the record after an event depends only on the record before and the entry, so a rebuild
/// from seq 1 gives the same records as the live projection.
package enum RecordFold {
    /// The record of a run that opens with `entry` (nothing of it folded yet).
    package static func opening(_ run: String, at entry: JournalEntry) -> DualRunRecord {
        var record = DualRunRecord(runID: run, firstSeq: entry.seq)
        record.startedAt = entry.timestamp
        return record
    }

    /// The record of one run's entries (in seq order, all of the run's from its first), as the
    /// projection folds it; `nil` when there are none. The one fold for readers that have a
    /// run's entries in hand (the fleet's lookups, `tandem runs show`, the shipper).
    package static func record(of entries: [JournalEntry], run: String) -> DualRunRecord? {
        guard let first = entries.first else { return nil }
        var record = opening(run, at: first)
        for entry in entries { apply(entry, to: &record) }
        return record
    }

    /// Applies `entry` (which must belong to `record`'s run) to `record`.
    package static func apply(_ entry: JournalEntry, to record: inout DualRunRecord) {
        apply(entry, event: FoldedEvent(entry.typeUTF8), data: JSONFields(entry.data), to: &record)
    }

    /// Applies `entry` whose type and payload fields the caller already read.
    static func apply(_ entry: JournalEntry, event: FoldedEvent, data: JSONFields?, to record: inout DualRunRecord) {
        record.lastSeq = entry.seq
        record.events += 1
        switch event {
        case .runStarted:
            record.firstSeq = min(record.firstSeq, entry.seq)
            if let raw = data?.raw("query") { record.queryJSON = Array(raw) }
            if let data, !data.isNull("context"), let raw = data.raw("context") { record.contextJSON = Array(raw) }
            record.startedAt = entry.timestamp
            let config = data?.object("config")
            if record.flash == nil { record.flash = ModelTrace() }
            if record.pro == nil { record.pro = ModelTrace() }
            record.flash!.model = config?.string("flash_model")
            record.pro!.model = config?.string("pro_model")
        case .clientDisconnected:
            record.clientDisconnected = true
        case .runAborted:
            record.status = .aborted
            record.endedAt = entry.timestamp
        case .done:
            record.status = RunRecordStatus(doneStatus: data?.string("status"))
            record.durationMs = data?.double("duration_ms")
            record.endedAt = entry.timestamp
        case .model(.flash, let kind):
            if record.flash == nil { record.flash = ModelTrace() }
            applyModelEvent(kind, data, entry: entry, to: &record.flash!)
        case .model(.pro, let kind):
            if record.pro == nil { record.pro = ModelTrace() }
            applyModelEvent(kind, data, entry: entry, to: &record.pro!)
        case .ignored:
            break
        }
    }

    private static func applyModelEvent(_ kind: ModelEventKind, _ data: JSONFields?, entry: JournalEntry, to trace: inout ModelTrace) {
        switch kind {
        case .started:
            if trace.startedAt == nil { trace.startedAt = entry.timestamp }
            trace.attempts = max(trace.attempts, data?.int("attempt") ?? 1)
            if let model = data?.string("model") { trace.model = model }
            trace.outcome = .running
        case .firstToken:
            trace.ttftMs = data?.double("after_ms")
        case .completed:
            trace.completedSeq = entry.seq
            trace.version = data?.string("model")
            let usage = data?.object("usage")
            trace.promptTokens = usage?.int("input_tokens")
            trace.completionTokens = usage?.int("output_tokens")
            trace.latencyMs = data?.double("latency_ms")
            if let ttft = data?.double("ttft_ms") { trace.ttftMs = ttft }
            trace.requestID = data?.string("provider_request_id")
            trace.outcome = .completed
            trace.endedAt = entry.timestamp
        case .timeout:
            let phase = data?.string("phase") ?? "total"
            trace.outcome = .timeout
            trace.errorClass = "timeout_\(phase)"
            trace.error = "\(phase) deadline of \(format(data?.double("timeout_s") ?? 0)) s expired after \(format(data?.double("elapsed_ms") ?? 0)) ms"
            trace.endedAt = entry.timestamp
        case .failed:
            trace.outcome = .failed
            trace.errorClass = data?.string("error_class")
            trace.error = data?.string("message")
            trace.endedAt = entry.timestamp
        case .cancelled:
            trace.outcome = .cancelled
            trace.errorClass = "cancelled"
            trace.error = data?.string("reason")
            trace.endedAt = entry.timestamp
        case .delta:
            trace.streamedBytes = (trace.streamedBytes ?? 0) + (data?.string("text")?.utf8.count ?? 0)
        case .retry:
            break
        }
    }

    private static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
