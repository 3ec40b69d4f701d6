import Foundation
import NIOHTTP1
import TandemDomain
import TandemJournal
import TandemProviders
import TandemRuns
import TandemHTTPTestSupport
import TandemTestSupport
import Testing

/// SPEC §11 "Linear time" and "No oracle" over HTTP (issue 19 items 1 and 2).
@Suite("Redaction against hostile clients", .serialized, .timeLimit(.minutes(1)))
struct RedactionServerTests {
    /// Runs `body` to its end with both models answering; returns its frames.
    private func run(_ server: TestServer, _ provider: FakeProvider, _ body: String) async throws -> [ClientFrame] {
        let stream = try await query(server, body)
        provider.flash.send(.complete("Quick."))
        // Pro answers only once Flash's frame is out: otherwise Pro may win and supersede Flash.
        let preliminary = try #require(try await stream.next())
        provider.pro.send(.complete("Verified."))
        return [preliminary] + (try await stream.rest())
    }

    /// Before: the e-mail rule backtracked, one 64 KiB string took 33 s on the cooperative pool
    /// (release build), and two such requests kept `/health` from answering for 34 s (past this
    /// suite's time limit).
    @Test("/health answers while two adversarial requests (32 K query, 64 KiB context) are in flight, and both runs end")
    func healthDuringAdversarialRequests() async throws {
        // Models that answer at once on the wall clock: the runs need no steering (the fake
        // provider serves one call per model at a time).
        let provider = ScriptedProvider(flash: .init(latency: .zero), pro: .init(latency: .zero), clock: ContinuousClock())
        try await TestServer.with(provider: provider) { server in
            // The longest query allowed (32,768 characters) and a 64 KiB context string.
            let hostileQuery = String(repeating: "a", count: 32_000) + "@"
            let note = String(repeating: "a", count: 65_000) + "@"
            let body = #"{"query":"\#(hostileQuery)","context":{"note":"\#(note)"}}"#
            async let first = query(server, body)
            async let second = query(server, body)
            let health = try await HTTPTestClient.send(server.baseURL, "/health")
            #expect(health.status == 200)
            for stream in try await [first, second] {
                #expect(stream.status == 200)
                #expect(try await stream.rest().last?.event == "done")
                guard case .runStarted(let started)? = try events(server, try runID(of: stream)).first else {
                    Issue.record("the run does not start with run_started")
                    continue
                }
                #expect(started.query == hostileQuery, "no e-mail in it: left as it is")
            }
        }
    }

    /// Before: the digest was over the request as sent, so a re-post answered 409 to a wrong
    /// guess of a redacted value and replayed the right one.
    @Test("A right and a wrong guess of a redacted value get the same answer: both replay the run")
    func noOracle() async throws {
        let provider = FakeProvider()
        try await TestServer.with(provider: provider) { server in
            func body(_ secret: String) -> String {
                #"{"query":"log in with password=\#(secret) please","context":{"note":"password=\#(secret)","password":"\#(secret)"},"run_id":"oracle-1"}"#
            }
            let original = try await run(server, provider, body("hunter22"))
            let journal = try server.journal.entries(from: 1).map(\.text).joined(separator: "\n")
            #expect(!journal.contains("hunter22"))
            for guess in ["hunter22", "wrong-guess", "hunter23"] {
                let again = try await query(server, body(guess))
                #expect(again.status == 200, "guess \(guess)")
                #expect(try await again.rest() == original, "guess \(guess)")
            }
            #expect(provider.flash.calls == 1 && provider.pro.calls == 1)
            // A request that differs in what the journal shows is still another request.
            let other = try await HTTPTestClient.send(
                server.baseURL, "/api/reasoning/query", method: .POST, body: #"{"query":"log in with password=x, now","run_id":"oracle-1"}"#
            )
            #expect(other.status == 409)
        }
    }

    /// Runs journaled under `default-v2` were digested over the request as sent: their re-posts
    /// are compared that way, so their replays keep working (and their conflicts stay conflicts).
    @Test("A re-post of a default-v2 run is compared as that run was digested: same request replays, another secret is a conflict")
    func oldPolicyReplays() async throws {
        let directory = try TemporaryDirectory()
        let provider = FakeProvider()
        try await TestServer.with(provider: provider, directory: directory) { server in
            let key = try RequestDigestKey.loadOrCreate(inDataDirectory: directory.path)
            let run = try #require(RunID("old-v2"))
            let context: JSONValue = .object(["note": .string("password=hunter22")])
            let sent = RunRequest(runID: run, query: "q password=hunter22", context: context, client: ClientInfo(), clientChoseRunID: true)
            _ = try await server.journal.append([
                .runStarted(RunStarted(
                    query: "q password=[REDACTED_KEY]", context: .object(["note": .string("password=[REDACTED_KEY]")]), client: ClientInfo(),
                    config: RunConfig(
                        flashModel: "f", proModel: "p", flashTimeoutS: 5, proTimeoutS: 45, provider: "fake", redaction: "default-v2",
                        onFlashFailure: "continue"
                    ),
                    requestDigest: sent.digest(key: key)
                )),
                .done(RunDone(status: .ok, durationMs: 1)),
            ], for: run)
            let same = try await query(server, #"{"query":"q password=hunter22","context":{"note":"password=hunter22"},"run_id":"old-v2"}"#)
            #expect(same.status == 200)
            #expect(try await same.rest().last?.event == "done")
            let other = try await HTTPTestClient.send(
                server.baseURL, "/api/reasoning/query", method: .POST,
                body: #"{"query":"q password=hunter23","context":{"note":"password=hunter23"},"run_id":"old-v2"}"#
            )
            #expect(other.status == 409)
            #expect(provider.flash.calls == 0)
        }
    }
}
