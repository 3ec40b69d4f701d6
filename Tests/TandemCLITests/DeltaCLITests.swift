import Foundation
import Logging
import TandemDomain
import TandemJournal
import TandemTestSupport
import Testing

/// What `runs show` and `journal replay` make of a run's deltas (SPEC §10).
@Suite("CLI and deltas", .timeLimit(.minutes(1)))
struct DeltaCLITests {
    /// A deltas run whose Pro streamed three deltas (14 bytes) before the client left.
    private func journalWithDeltas() async throws -> TemporaryDirectory {
        let directory = try TemporaryDirectory()
        let journal = try Journal(JournalConfiguration(directory: directory.path), logger: Logger(label: "test"))
        let run = try #require(RunID("left-early"))
        let config = RunConfig(
            flashModel: "f", proModel: "p", flashTimeoutS: 5, proTimeoutS: 45, provider: "scripted", redaction: "off",
            onFlashFailure: "continue", stream: "deltas"
        )
        _ = try await journal.append([
            .runStarted(RunStarted(query: "q", context: nil, client: ClientInfo(ip: nil, userAgent: nil, keyID: nil), config: config, requestDigest: "d")),
            .modelDelta(.pro, ModelDelta(text: "One ", offset: 0)),
            .modelDelta(.pro, ModelDelta(text: "twö ", offset: 4)),
            .modelDelta(.pro, ModelDelta(text: "three", offset: 9)),
            .clientDisconnected(ClientDisconnected(elapsedMs: 10)),
            .modelCancelled(.flash, ModelCancelled(reason: .clientDisconnected)),
            .modelCancelled(.pro, ModelCancelled(reason: .clientDisconnected)),
            .done(RunDone(status: .cancelled, durationMs: 11)),
        ], for: run)
        journal.close()
        return directory
    }

    @Test("runs show folds a model's deltas into one line; --deltas lists them; replay --type pro_delta finds them")
    func foldedAndListed() async throws {
        let directory = try await journalWithDeltas()
        let shown = try await TandemExecutable.run(["runs", "show", "left-early", "--data-dir", directory.path])
        #expect(shown.status == 0, "\(shown.stderr)")
        let deltaLines = shown.stdout.split(separator: "\n").filter { $0.contains("pro_delta") }
        #expect(deltaLines.count == 1)
        #expect(deltaLines.first?.contains("3 deltas, 14 bytes, offsets 0…9") == true)
        #expect(shown.stdout.contains(#""streamed_bytes":14"#))
        let listed = try await TandemExecutable.run(["runs", "show", "left-early", "--deltas", "--data-dir", directory.path])
        #expect(listed.stdout.split(separator: "\n").filter { $0.contains("pro_delta") }.count == 3)
        let replayed = try await TandemExecutable.run(["journal", "replay", "--type", "pro_delta", "--data-dir", directory.path])
        #expect(replayed.status == 0, "\(replayed.stderr)")
        #expect(replayed.stdout.split(separator: "\n").count == 3)
    }
}
