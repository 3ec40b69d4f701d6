import TandemJournal

/// The metrics projection (SPEC §4): latency and first-token histograms per model, and counters of
/// runs by status, timeouts, errors, cancellations and tokens. Derived only from the journal.
public struct MetricsState: Sendable, Equatable {
    /// Per model (`flash`, `pro`): total latency of completed calls.
    var latency: [String: LatencyHistogram] = [:]
    /// Per model: time to first token.
    var ttft: [String: LatencyHistogram] = [:]
    /// `status` → runs.
    public internal(set) var runs: [String: UInt64] = [:]
    /// `model|phase` → timeouts.
    public internal(set) var timeouts: [String: UInt64] = [:]
    /// `model|error_class` → failures.
    public internal(set) var errors: [String: UInt64] = [:]
    /// `model|reason` → cancellations.
    public internal(set) var cancellations: [String: UInt64] = [:]
    /// `model|kind` (`input`/`output`) → tokens.
    public internal(set) var tokens: [String: UInt64] = [:]

    public init() {}

    /// Applies one journal entry.
    mutating func apply(_ entry: JournalEntry) {
        apply(type: entry.type, data: JSONFields(entry.data))
    }

    /// Applies an entry whose type and payload fields the caller already read.
    mutating func apply(type: String, data parsed: JSONFields?) {
        switch type {
        case "done":
            if let status = parsed?.string("status") { runs[status, default: 0] += 1 }
        case "run_aborted":
            runs["aborted", default: 0] += 1
        default:
            guard let separator = type.firstIndex(of: "_") else { return }
            let model = String(type[..<separator])
            guard model == "flash" || model == "pro" else { return }
            let kind = type[type.index(after: separator)...]
            guard let data = parsed else { return }
            switch kind {
            case "completed":
                if let latency = data.double("latency_ms") { self.latency[model, default: LatencyHistogram()].record(milliseconds: latency) }
                if let usage = data.object("usage") {
                    tokens["\(model)|input", default: 0] += UInt64(max(0, usage.int("input_tokens") ?? 0))
                    tokens["\(model)|output", default: 0] += UInt64(max(0, usage.int("output_tokens") ?? 0))
                }
            case "first_token":
                if let after = data.double("after_ms") { ttft[model, default: LatencyHistogram()].record(milliseconds: after) }
            case "timeout":
                timeouts["\(model)|\(data.string("phase") ?? "total")", default: 0] += 1
            case "failed":
                errors["\(model)|\(data.string("error_class") ?? "unknown")", default: 0] += 1
            case "cancelled":
                cancellations["\(model)|\(data.string("reason") ?? "unknown")", default: 0] += 1
            default:
                break
            }
        }
    }

    /// Percentiles of one model's latency or first-token histogram.
    public struct Summary: Sendable, Equatable {
        public var count: UInt64
        public var mean: Double
        public var p50: Double
        public var p90: Double
        public var p95: Double
        public var p99: Double
        public var max: Double
    }

    public func latencySummary(_ model: String) -> Summary { Self.summary(latency[model] ?? LatencyHistogram()) }
    public func ttftSummary(_ model: String) -> Summary { Self.summary(ttft[model] ?? LatencyHistogram()) }

    private static func summary(_ histogram: LatencyHistogram) -> Summary {
        Summary(
            count: histogram.count, mean: histogram.meanMilliseconds, p50: histogram.percentile(50), p90: histogram.percentile(90),
            p95: histogram.percentile(95), p99: histogram.percentile(99), max: histogram.maxMilliseconds
        )
    }

    // MARK: Stored form

    var json: [UInt8] {
        var writer = CanonicalWriter()
        writer.beginObject()
        writeCounters("cancellations", cancellations, &writer)
        writeCounters("errors", errors, &writer)
        writeHistograms("latency", latency, &writer)
        writeCounters("runs", runs, &writer)
        writeCounters("timeouts", timeouts, &writer)
        writeCounters("tokens", tokens, &writer)
        writeHistograms("ttft", ttft, &writer)
        writer.endObject()
        return writer.bytes
    }

    init?(json: [UInt8]) {
        guard let fields = JSONFields(json[...]) else { return nil }
        cancellations = Self.counters(fields.object("cancellations"))
        errors = Self.counters(fields.object("errors"))
        runs = Self.counters(fields.object("runs"))
        timeouts = Self.counters(fields.object("timeouts"))
        tokens = Self.counters(fields.object("tokens"))
        latency = Self.histograms(fields.object("latency"))
        ttft = Self.histograms(fields.object("ttft"))
    }

    private func writeCounters(_ name: String, _ counters: [String: UInt64], _ writer: inout CanonicalWriter) {
        writer.key(name)
        writer.beginObject()
        for key in counters.keys.sorted() {
            writer.key(key)
            writer.uint(counters[key]!)
        }
        writer.endObject()
    }

    private func writeHistograms(_ name: String, _ histograms: [String: LatencyHistogram], _ writer: inout CanonicalWriter) {
        writer.key(name)
        writer.beginObject()
        for key in histograms.keys.sorted() {
            writer.key(key)
            histograms[key]!.write(&writer)
        }
        writer.endObject()
    }

    private static func counters(_ fields: JSONFields?) -> [String: UInt64] {
        guard let fields else { return [:] }
        var result: [String: UInt64] = [:]
        for (key, value) in fields.allMembers {
            if let number = UInt64(String(decoding: value, as: UTF8.self)) { result[key] = number }
        }
        return result
    }

    private static func histograms(_ fields: JSONFields?) -> [String: LatencyHistogram] {
        guard let fields else { return [:] }
        var result: [String: LatencyHistogram] = [:]
        for (key, value) in fields.allMembers {
            result[key] = LatencyHistogram(JSONFields(value))
        }
        return result
    }
}
