import TandemDomain
import Foundation

/// Renders the metrics projection as Prometheus text exposition (format 0.0.4) and as the JSON of
/// `GET /api/metrics`.
package enum MetricsExposition {
    /// The Prometheus text; `gauges` are live process values appended as they are.
    package static func prometheus(_ metrics: MetricsState, gauges: [(name: String, help: String, value: Double)] = []) -> String {
        var out = ""
        histogram(&out, "tandem_model_latency_seconds", "Latency of completed model calls (from the journal).", metrics.latency)
        histogram(&out, "tandem_model_ttft_seconds", "Time to first token of model calls (from the journal).", metrics.ttft)
        histogram(
            &out, "tandem_model_time_per_output_token_seconds",
            "Time per output token after the first, of completed model calls with a ttft and at least two output tokens (from the journal).",
            metrics.timePerOutputToken
        )
        counter(&out, "tandem_runs_total", "Runs by final status (from the journal).", metrics.runs, labels: ["status"])
        counter(&out, "tandem_model_timeouts_total", "Model call timeouts by phase.", metrics.timeouts, labels: ["model", "phase"])
        counter(&out, "tandem_model_errors_total", "Model call failures by error class.", metrics.errors, labels: ["model", "error_class"])
        counter(&out, "tandem_model_cancellations_total", "Model call cancellations by reason.", metrics.cancellations, labels: ["model", "reason"])
        counter(&out, "tandem_model_tokens_total", "Tokens used, by model and kind.", metrics.tokens, labels: ["model", "kind"])
        for gauge in gauges {
            out += "# HELP \(gauge.name) \(gauge.help)\n# TYPE \(gauge.name) gauge\n\(gauge.name) \(number(gauge.value))\n"
        }
        return out
    }

    private static func histogram<H: PrometheusHistogram>(_ out: inout String, _ name: String, _ help: String, _ histograms: [String: H]) {
        out += "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
        for model in ["flash", "pro"] {
            let histogram = histograms[model] ?? H()
            var cumulative: UInt64 = 0
            for (bound, count) in zip(H.bucketBounds, histogram.buckets) {
                cumulative = cumulative.saturatingAdding(count)
                out += "\(name)_bucket{model=\"\(model)\",le=\"\(number(bound))\"} \(cumulative)\n"
            }
            out += "\(name)_bucket{model=\"\(model)\",le=\"+Inf\"} \(histogram.count)\n"
            out += "\(name)_sum{model=\"\(model)\"} \(number(Double(histogram.sumMicros) / 1e6))\n"
            out += "\(name)_count{model=\"\(model)\"} \(histogram.count)\n"
        }
    }

    private static func counter(_ out: inout String, _ name: String, _ help: String, _ values: [String: UInt64], labels: [String]) {
        out += "# HELP \(name) \(help)\n# TYPE \(name) counter\n"
        for key in values.keys.sorted() {
            let parts = key.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            let rendered = zip(labels, parts).map { "\($0)=\"\(escape($1))\"" }.joined(separator: ",")
            out += "\(name){\(rendered)} \(values[key]!)\n"
        }
    }

    private static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }

    private static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    /// `GET /api/metrics`: percentiles per model (milliseconds), each histogram's bucket counts (the
    /// Prometheus buckets, not cumulative, bounds in `bucket_bounds_ms`; calls slower than the last
    /// bound are counted in `count` only) and the counters.
    package static func json(_ metrics: MetricsState) -> [UInt8] {
        var writer = CanonicalWriter()
        writer.beginObject()
        writer.key("bucket_bounds_ms")
        writer.beginArray()
        for bound in LatencyHistogram.bucketBounds { writer.number(bound * 1_000) }
        writer.endArray()
        writer.key("cancellations")
        counters(metrics.cancellations, &writer)
        writer.key("errors")
        counters(metrics.errors, &writer)
        writer.key("models")
        writer.beginObject()
        for model in ["flash", "pro"] {
            writer.key(escaping: model)
            writer.beginObject()
            writer.key("latency_ms")
            summary(metrics.latencySummary(model), buckets: metrics.latency[model], &writer)
            writer.key("ttft_ms")
            summary(metrics.ttftSummary(model), buckets: metrics.ttft[model], &writer)
            writer.endObject()
        }
        writer.endObject()
        writer.key("runs")
        counters(metrics.runs, &writer)
        writer.key("timeouts")
        counters(metrics.timeouts, &writer)
        writer.key("tokens")
        counters(metrics.tokens, &writer)
        writer.endObject()
        return writer.bytes
    }

    private static func counters(_ values: [String: UInt64], _ writer: inout CanonicalWriter) {
        writer.beginObject()
        for key in values.keys.sorted() {
            writer.key(escaping: key)
            writer.uint(values[key]!)
        }
        writer.endObject()
    }

    private static func summary(_ summary: MetricsState.Summary, buckets histogram: LatencyHistogram?, _ writer: inout CanonicalWriter) {
        writer.beginObject()
        writer.key("buckets")
        writer.beginArray()
        for count in (histogram ?? LatencyHistogram()).buckets { writer.uint(count) }
        writer.endArray()
        writer.key("count")
        writer.uint(summary.count)
        writer.field("max", summary.max)
        writer.field("mean", summary.mean)
        writer.field("p50", summary.p50)
        writer.field("p90", summary.p90)
        writer.field("p95", summary.p95)
        writer.field("p99", summary.p99)
        writer.endObject()
    }
}

/// A histogram with fixed Prometheus buckets (bounds in seconds), a count and a sum.
protocol PrometheusHistogram {
    static var bucketBounds: [Double] { get }
    var buckets: [UInt64] { get }
    var count: UInt64 { get }
    var sumMicros: UInt64 { get }
    init()
}

extension LatencyHistogram: PrometheusHistogram {}
extension TokenTimeHistogram: PrometheusHistogram {}
