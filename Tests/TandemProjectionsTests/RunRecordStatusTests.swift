import TandemDomain
import TandemProjections
import Testing

/// Record statuses and model outcomes: one enum each, spelled as on the wire.
@Suite("Record statuses")
struct RunRecordStatusTests {
    @Test("Raw values are the wire strings, in the order the CLI lists them")
    func wireStrings() {
        #expect(RunRecordStatus.allCases.map(\.rawValue) == ["running", "ok", "partial", "timeout", "error", "cancelled", "aborted"])
        #expect(ModelOutcome.allCases.map(\.rawValue) == ["pending", "running", "completed", "timeout", "failed", "cancelled"])
    }

    @Test("A done status becomes the record status of the same name", arguments: RunStatus.allCases)
    func fromDone(status: RunStatus) {
        #expect(RunRecordStatus(status).rawValue == status.rawValue)
    }
}
