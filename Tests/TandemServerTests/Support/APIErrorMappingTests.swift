import Foundation
import HTTPTypes
import TandemDomain
import TandemJournal
import TandemProjections
import TandemProviders
@testable import TandemServer
import TandemRuns
import TandemHTTPTestSupport
import TandemTestSupport
import Testing

/// The one mapping from module errors to refusals: each error keeps the status, code and sentence
/// clients saw before the modules had their own error types.
@Suite("API error mapping", .timeLimit(.minutes(1)))
struct APIErrorMappingTests {
    @Test("Run errors: conflict 409, overloaded and shutting_down 503 with Retry-After, journal failures 503 journal_unavailable")
    func runErrors() {
        let conflict = APIError(RunError.conflict)
        #expect(conflict.status == .conflict && conflict.code == "run_id_conflict")
        #expect(conflict.message == "A run with this run_id already exists for a different request; use a new run_id.")
        let overloaded = APIError(RunError.overloaded)
        #expect(overloaded.status == .serviceUnavailable && overloaded.code == "overloaded" && overloaded.retryAfterSeconds == 1)
        let shuttingDown = APIError(RunError.shuttingDown)
        #expect(shuttingDown.code == "shutting_down" && shuttingDown.retryAfterSeconds == 5)
        #expect(shuttingDown.message == "The server is shutting down; retry against another instance or after restart.")

        let full = APIError(RunError.journal(JournalError(.mapFull, "the journal is full")))
        #expect(full.status == .serviceUnavailable && full.code == "journal_unavailable")
        #expect(full.message == "The audit journal cannot record runs right now (the journal is full); no run was started.")
        // Only a shutdown closes the journal: a run whose run_started meets a closed journal is
        // refused as a shutdown; a read that meets it is a journal failure as before.
        #expect(APIError(RunError.notStarted(JournalError(.closed, "closed"))).code == "shutting_down")
        #expect(APIError(RunError.notStarted(JournalError(.diskFull, "full"))).code == "journal_unavailable")
        #expect(APIError(RunError.journal(JournalError(.closed, "closed"))).code == "journal_unavailable")
    }

    @Test("Anything a route caught: refusals pass, lagging or failing projections 503 projection_lagging, the rest journal_unavailable")
    func caughtErrors() {
        let lagging: any Error = ProjectionError(.lagging, "behind")
        #expect(APIError(lagging).code == "projection_lagging")
        #expect(APIError(lagging).message == "The audit records are behind the journal (behind).")
        let failing: any Error = ProjectionError(.storage, "disk gone")
        #expect(APIError(failing).code == "projection_lagging")
        let refusal: any Error = APIError.notFound("r1")
        #expect(APIError(refusal).code == "run_not_found")
        let run: any Error = RunError.overloaded
        #expect(APIError(run).code == "overloaded")
        let journal: any Error = JournalError(.io, "read failed", seq: 7)
        #expect(APIError(journal).code == "journal_unavailable")
        #expect(APIError(journal).message == "The audit journal cannot record runs right now (read failed (seq 7)); no run was started.")
    }

    @Test("GET /api/runs?status= accepts the record statuses and refuses others, naming them")
    func statusFilter() async throws {
        try await TestServer.with(provider: FakeProvider()) { server in
            for status in RunRecordStatus.allCases {
                #expect(try await HTTPTestClient.send(server.baseURL, "/api/runs?status=\(status.rawValue)").status == 200)
            }
            let refused = try await HTTPTestClient.send(server.baseURL, "/api/runs?status=done")
            #expect(refused.status == 422)
            let json = try #require(try JSONSerialization.jsonObject(with: Data(refused.body.utf8)) as? [String: String])
            #expect(json["code"] == "validation_error" && json["field"] == "status")
            #expect(json["error"] == "status must be one of aborted, cancelled, error, ok, partial, running, timeout.")
        }
    }
}
