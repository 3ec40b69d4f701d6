import Foundation
import Logging
import TandemDomain
import TandemJournal
import TandemTestSupport
import Testing

@testable import TandemProjections

/// Nothing a journal entry says may trap the projections: before the fix, three completions with
/// `Int64.max` tokens trapped the metrics fold, and `serve` died at every start-up (it re-folds
/// the same entries) as did `projections rebuild`. Counts now saturate.
@Suite("Hostile numbers in journal entries never trap the projections")
struct HostileNumbersTests {
    private let logger = Logger(label: "test")

    /// Three runs whose completions claim `Int64.max` tokens and absurd latencies, then entries
    /// written by hand with numbers no tandem writes (out of `Int` range, infinite as `Double`).
    private func appendHostileEntries(_ journal: Journal) async throws {
        for index in 0..<3 {
            let run = RunID("huge-\(index)")!
            _ = try await journal.append([
                SampleEvents.all[0],
                .firstToken(.flash, FirstToken(afterMs: 1e300)),
                .modelCompleted(.flash, ModelCompleted(
                    model: "m", content: "x", usage: TokenUsage(inputTokens: Int.max, outputTokens: Int.max),
                    latencyMs: 1e300, ttftMs: 1e300, finishReason: nil, providerRequestID: nil
                )),
                .modelTimeout(.pro, ModelTimeout(timeoutS: 1e300, phase: .total, elapsedMs: 1e300)),
                .done(RunDone(status: .partial, durationMs: 1e300)),
            ], for: run)
        }
        let raw = RunID("raw")!
        let payloads: [(String, String, PendingEntry.Lifecycle)] = [
            ("run_started", #"{"query":"q","context":null}"#, .opensRun),
            ("flash_first_token", #"{"after_ms":-1e400}"#, .none),
            ("flash_completed", #"{"model":"m","content":"x","usage":{"input_tokens":-9223372036854775808,"output_tokens":99999999999999999999999},"latency_ms":1e400}"#, .none),
            ("pro_completed", #"{"model":"m","content":"x","usage":{"input_tokens":1e400,"output_tokens":-1e400},"latency_ms":-5}"#, .none),
            ("pro_timeout", #"{"timeout_s":99999999999999999999999,"phase":"total","elapsed_ms":1e400}"#, .none),
            ("done", #"{"status":"error","duration_ms":1e400}"#, .closesRun),
        ]
        for (type, data, lifecycle) in payloads {
            _ = try await journal.append(PendingEntry(runID: raw, type: type, data: Array(data.utf8), lifecycle: lifecycle))
        }
    }

    @Test("Start-up catch-up and a rebuild fold Int64.max token counts and absurd latencies; counts saturate")
    func hostileEntries() async throws {
        let directory = try TemporaryDirectory()
        let journal = try Journal(JournalConfiguration(directory: directory.path), logger: logger)
        try await appendHostileEntries(journal)
        let head = try journal.head().seq

        // What `serve` does at start-up: open the store and catch up.
        let projector = Projector(journal: journal, dataDirectory: directory.path, logger: logger)
        try projector.prepare()
        let store = try #require(projector.store)
        #expect(try store.checkpoint() == head)
        let metrics = try store.metrics()
        #expect(metrics.tokens["flash|input"] == UInt64.max, "saturated, not wrapped")
        #expect(metrics.tokens["flash|output"] == UInt64.max)
        #expect(metrics.latencySummary("flash").count == 4)
        let record = try #require(try store.record("huge-0"))
        #expect(record.flash?.promptTokens == Int.max)
        #expect(record.pro?.error != nil)
        #expect(try store.record("raw")?.status == .error)

        // What `tandem projections rebuild` does: the same fold from seq 1 gives the same state.
        let location = ProjectionLocation(dataDirectory: directory.path)
        let rebuilt = try ProjectionRebuild.rebuild(journal: journal, location: location, name: location.newName(), shards: 2)
        #expect(try rebuilt.store.digest() == store.digest())

        // The live projector keeps folding what comes after.
        let next = try await journal.append(Workload.events(forRun: 0), for: RunID("after")!)
        let live = Task { try await projector.run() }
        let caughtUp = try await projector.store(through: next.last!.seq, timeout: .seconds(30))
        #expect(caughtUp === store)
        live.cancel()
        #expect(try store.record("after")?.status == .ok)
    }

    @Test("Saturating sums: merging metrics never overflows")
    func saturatingMerge() {
        var histogram = LatencyHistogram()
        histogram.record(milliseconds: .infinity)
        histogram.record(milliseconds: 1e300)
        histogram.record(milliseconds: -.infinity)
        var merged = histogram
        merged.merge(histogram)
        #expect(merged.count == 6)
        #expect(merged.sumMicros == UInt64.max)
    }
}
