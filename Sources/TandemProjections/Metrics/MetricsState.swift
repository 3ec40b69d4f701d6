import TandemDomain

/// The metrics projection (SPEC §4): latency and first-token histograms per model, and counters of
/// runs by status, timeouts, errors, cancellations and tokens. Derived only from the journal.
public struct MetricsState: Sendable, Equatable {
    /// Per model (`flash`, `pro`): total latency of completed calls.
    var latency: [String: LatencyHistogram] = [:]
    /// Per model: time to first token.
    var ttft: [String: LatencyHistogram] = [:]
    /// Per model: (latency − ttft) / (output tokens − 1) of completed calls with a ttft and at
    /// least two output tokens.
    var timePerOutputToken: [String: TokenTimeHistogram] = [:]
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

    /// Applies an entry whose type and payload fields the caller already read.
    mutating func apply(_ event: FoldedEvent, data parsed: JSONFields?) {
        switch event {
        case .done:
            runs.add(1, to: RunRecordStatus(doneStatus: parsed?.string("status")).rawValue)
        case .runAborted:
            runs.add(1, to: RunRecordStatus.aborted.rawValue)
        case .model(let model, let kind):
            guard let data = parsed else { return }
            switch kind {
            case .completed:
                if let latency = data.double("latency_ms") { self.latency[model.rawValue, default: LatencyHistogram()].record(milliseconds: latency) }
                if let usage = data.object("usage") {
                    // Whatever the entry says (an upstream may have sent Int64.max): sums saturate.
                    tokens.add(usage.uint("input_tokens") ?? 0, to: model.inputTokensKey)
                    tokens.add(usage.uint("output_tokens") ?? 0, to: model.outputTokensKey)
                    if let latency = data.double("latency_ms"), let ttft = data.double("ttft_ms"),
                        let output = usage.uint("output_tokens"), output >= 2 {
                        timePerOutputToken[model.rawValue, default: TokenTimeHistogram()]
                            .record(milliseconds: (latency - ttft) / Double(output - 1))
                    }
                }
            case .firstToken:
                if let after = data.double("after_ms") { ttft[model.rawValue, default: LatencyHistogram()].record(milliseconds: after) }
            case .timeout:
                timeouts.add(1, to: "\(model.rawValue)|\(data.string("phase") ?? "total")")
            case .failed:
                errors.add(1, to: "\(model.rawValue)|\(data.string("error_class") ?? "unknown")")
            case .cancelled:
                cancellations.add(1, to: "\(model.rawValue)|\(data.string("reason") ?? "unknown")")
            case .started, .retry, .delta:
                break
            }
        case .runStarted, .clientDisconnected, .ignored:
            break
        }
    }

    /// Adds `other`'s counts: the metrics of disjoint sets of runs merge into those of their union.
    mutating func merge(_ other: MetricsState) {
        for (model, histogram) in other.latency { latency[model, default: LatencyHistogram()].merge(histogram) }
        for (model, histogram) in other.ttft { ttft[model, default: LatencyHistogram()].merge(histogram) }
        for (model, histogram) in other.timePerOutputToken { timePerOutputToken[model, default: TokenTimeHistogram()].merge(histogram) }
        runs.add(other.runs)
        timeouts.add(other.timeouts)
        errors.add(other.errors)
        cancellations.add(other.cancellations)
        tokens.add(other.tokens)
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
        let values = histogram.percentiles([50, 90, 95, 99])
        return Summary(
            count: histogram.count, mean: histogram.meanMilliseconds, p50: values[0], p90: values[1],
            p95: values[2], p99: values[3], max: histogram.maxMilliseconds
        )
    }

    // MARK: Stored form

    var json: [UInt8] { json(withTokenTimes: true) }

    /// The stored form; without the time-per-output-token histogram it is the form stores had before
    /// that histogram existed (what ``ProjectionStore/digest()`` hashes, so an earlier build's data
    /// dir rebuilds to the digest it recorded).
    func json(withTokenTimes: Bool) -> [UInt8] {
        var writer = CanonicalWriter()
        writer.beginObject()
        writeCounters("cancellations", cancellations, &writer)
        writeCounters("errors", errors, &writer)
        writeHistograms("latency", latency, &writer)
        writeCounters("runs", runs, &writer)
        // Absent until observed, so metrics stored before the histogram existed keep their bytes.
        if withTokenTimes, !timePerOutputToken.isEmpty {
            writer.key("time_per_output_token")
            writer.beginObject()
            for key in timePerOutputToken.keys.sorted() {
                writer.key(escaping: key)
                timePerOutputToken[key]!.write(&writer)
            }
            writer.endObject()
        }
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
        if let stored = fields.object("time_per_output_token") {
            for (key, value) in stored.allMembers { timePerOutputToken[key] = TokenTimeHistogram(JSONFields(value)) }
        }
    }

    private func writeCounters(_ name: StaticString, _ counters: [String: UInt64], _ writer: inout CanonicalWriter) {
        writer.key(name)
        writer.beginObject()
        for key in counters.keys.sorted() {
            writer.key(escaping: key)
            writer.uint(counters[key]!)
        }
        writer.endObject()
    }

    private func writeHistograms(_ name: StaticString, _ histograms: [String: LatencyHistogram], _ writer: inout CanonicalWriter) {
        writer.key(name)
        writer.beginObject()
        for key in histograms.keys.sorted() {
            writer.key(escaping: key)
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
