import Logging
import TandemJournal
import TandemTestSupport
import Testing

@testable import TandemProjections

/// A `done` closes its run whatever status it claims: the record and the metrics agree on one.
@Suite("The status of a done")
struct DoneStatusTests {
    @Test("a done whose status no done carries (running, aborted, unknown, missing) closes the run as error in the record and in the metrics; a valid one is kept", arguments: [
        (#"{"status":"running"}"#, RunRecordStatus.error),
        (#"{"status":"aborted"}"#, .error),
        (#"{"status":"sideways"}"#, .error),
        (#"{}"#, .error),
        (#"{"status":"partial"}"#, .partial),
    ])
    func doneStatus(data: String, expected: RunRecordStatus) async throws {
        let directory = try TemporaryDirectory()
        let journal = try Journal(JournalConfiguration(directory: directory.path), logger: Logger(label: "test"))
        defer { journal.close() }
        let done = try await journal.append(PendingEntry(runID: RunID("r")!, type: "done", data: Array(data.utf8), lifecycle: .closesRun))
        var record = DualRunRecord(runID: "r", firstSeq: done.seq)
        RecordFold.apply(done, to: &record)
        #expect(record.status == expected)
        #expect(record.isTerminal)
        var metrics = MetricsState()
        metrics.apply(FoldedEvent(done.typeUTF8), data: JSONFields(done.data))
        #expect(metrics.runs == [expected.rawValue: 1])
    }
}
