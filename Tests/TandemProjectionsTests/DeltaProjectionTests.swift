import Foundation
import Logging
import TandemDomain
import TandemJournal
import TandemTestSupport
import Testing

@testable import TandemProjections

/// What deltas (SPEC §10) change in the projections: `streamed_bytes`, and the time-per-output-token
/// histogram; a rebuild still equals the live projection.
@Suite("Projections of deltas")
struct DeltaProjectionTests {
    private static func completed(_ content: String, latency: Double, ttft: Double?, outputTokens: Int) -> ModelCompleted {
        ModelCompleted(
            model: "m", content: content, usage: TokenUsage(inputTokens: 3, outputTokens: outputTokens), latencyMs: latency, ttftMs: ttft
        )
    }

    /// A deltas run: Flash streamed "Hé " + "llo" and answered; Pro streamed 5 bytes and the client left.
    static let deltasRun: [DomainEvent] = [
        .modelDelta(.flash, ModelDelta(text: "Hé ", offset: 0)),
        .modelDelta(.flash, ModelDelta(text: "llo", offset: 4)),
        .modelCompleted(.flash, completed("Hé llo", latency: 250, ttft: 50, outputTokens: 5)),
        .modelDelta(.pro, ModelDelta(text: "Proof", offset: 0)),
        .clientDisconnected(ClientDisconnected(elapsedMs: 300)),
        .modelCancelled(.pro, ModelCancelled(reason: .clientDisconnected)),
        .done(RunDone(status: .cancelled, durationMs: 301)),
    ]

    @Test("streamed_bytes sums a model's delta bytes; absent for a model (and run) without deltas")
    func streamedBytes() async throws {
        let directory = try TemporaryDirectory()
        let journal = try Journal(JournalConfiguration(directory: directory.path), logger: Logger(label: "test"))
        let deltas = try await journal.append(Self.deltasRun, for: RunID("deltas")!)
        var record = DualRunRecord(runID: "deltas", firstSeq: deltas[0].seq)
        for entry in deltas { RecordFold.apply(entry.entry, to: &record) }
        #expect(record.flash?.streamedBytes == 7)
        #expect(record.pro?.streamedBytes == 5)
        #expect(DualRunRecord(json: record.json) == record, "the stored form reads back")
        let answers = try await journal.append(Workload.events(forRun: 0), for: RunID("answers")!)
        var plain = DualRunRecord(runID: "answers", firstSeq: answers[0].seq)
        for entry in answers { RecordFold.apply(entry.entry, to: &plain) }
        #expect(plain.pro?.streamedBytes == nil)
        #expect(!String(decoding: plain.json, as: UTF8.self).contains("streamed_bytes"))
    }

    @Test("time per output token: (latency − ttft) / (output tokens − 1), only with a ttft and at least two tokens")
    func timePerOutputToken() async throws {
        let directory = try TemporaryDirectory()
        let journal = try Journal(JournalConfiguration(directory: directory.path), logger: Logger(label: "test"))
        _ = try await journal.append([
            .modelCompleted(.pro, Self.completed("a", latency: 2_050, ttft: 50, outputTokens: 501)),  // 4 ms
            .modelCompleted(.pro, Self.completed("b", latency: 100, ttft: nil, outputTokens: 50)),  // no ttft
            .modelCompleted(.flash, Self.completed("c", latency: 100, ttft: 10, outputTokens: 1)),  // one token
        ], for: RunID("tpot")!)
        var metrics = MetricsState()
        for entry in try journal.entries(from: 1) { metrics.apply(entry) }
        #expect(metrics.timePerOutputToken["pro"]?.count == 1)
        #expect(metrics.timePerOutputToken["flash"] == nil)
        #expect(MetricsState(json: metrics.json) == metrics)
        let text = MetricsExposition.prometheus(metrics)
        #expect(text.contains(#"tandem_model_time_per_output_token_seconds_bucket{model="pro",le="0.002"} 0"#))
        #expect(text.contains(#"tandem_model_time_per_output_token_seconds_bucket{model="pro",le="0.004"} 1"#))
        #expect(text.contains(#"tandem_model_time_per_output_token_seconds_bucket{model="pro",le="4.096"} 1"#))
        #expect(text.contains(#"tandem_model_time_per_output_token_seconds_count{model="flash"} 0"#))
        #expect(!String(decoding: MetricsState().json, as: UTF8.self).contains("time_per_output_token"), "absent until observed")
    }

    @Test("A rebuild of runs with deltas equals the live projection byte for byte")
    func rebuildMatchesLive() async throws {
        let directory = try TemporaryDirectory()
        let journal = try Journal(JournalConfiguration(directory: directory.path), logger: Logger(label: "test"))
        try await Workload.append(runs: 40, to: journal)
        for index in 0..<20 {
            _ = try await journal.append([.runStarted(SampleEvents.runStarted)] + Self.deltasRun, for: RunID("deltas-\(index)")!)
        }
        let location = ProjectionLocation(dataDirectory: directory.path)
        let live = try ProjectionStore(directory: location.path(of: "live"), name: "live", readOnly: false)
        var folder = try ProjectionFolder(store: live)
        for entry in try journal.entries(from: 1) { try folder.apply(entry, store: live) }
        try folder.flush(to: live, wholeMetrics: true)
        let rebuilt = try ProjectionRebuild.rebuild(journal: journal, location: location, name: "rebuilt", shards: 3, entriesPerCommit: 97)
        #expect(try rebuilt.store.digest() == live.digest())
        #expect(try rebuilt.store.metrics() == live.metrics())
        #expect(try live.record("deltas-3")?.pro?.streamedBytes == 5)
    }
}
