import ArgumentParser
import Foundation
import TandemProjections

/// `tandem metrics`: percentiles per model and the counters, from the projections.
struct MetricsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "metrics", abstract: "Latency percentiles per model and the run/timeout/error counters.")

    @OptionGroup var dataDirectory: DataDirectoryOption

    func run() async throws {
        try await failing {
            let store = try openProjections(dataDirectory)
            let metrics = try store.metrics()
            Output.line("checkpoint seq \(try store.checkpoint())")
            Output.line("")
            Output.line("model  metric      count      mean       p50       p90       p95       p99       max   (ms)")
            for model in ["flash", "pro"] {
                for (name, summary) in [("latency", metrics.latencySummary(model)), ("ttft", metrics.ttftSummary(model))] {
                    let values = [summary.mean, summary.p50, summary.p90, summary.p95, summary.p99, summary.max]
                        .map { String(format: "%9.2f", $0) }.joined(separator: " ")
                    Output.line("\(model.padding(toLength: 6, withPad: " ", startingAt: 0)) \(name.padding(toLength: 8, withPad: " ", startingAt: 0)) \(String(format: "%8d", summary.count)) \(values)")
                }
            }
            for (title, counters) in [
                ("runs", metrics.runs), ("timeouts", metrics.timeouts), ("errors", metrics.errors),
                ("cancellations", metrics.cancellations), ("tokens", metrics.tokens),
            ] {
                Output.line("")
                Output.line("\(title):")
                if counters.isEmpty { Output.line("  (none)") }
                for key in counters.keys.sorted() {
                    Output.line("  \(key.replacingOccurrences(of: "|", with: " ").padding(toLength: 40, withPad: " ", startingAt: 0)) \(counters[key]!)")
                }
            }
        }
    }
}
