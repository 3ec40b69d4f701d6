import Foundation
import NIOHTTP1
import TandemDomain
import TandemJournal
import TandemRuns
import TandemHTTPTestSupport
import TandemTestSupport
import Testing

/// `run_started.request_digest` is HMAC-SHA-256 with the data dir's secret. Before the fix it was
/// a plain SHA-256 of the unredacted `{"context":…,"query":…}`: anyone with the journal (or
/// `GET /api/runs/{id}/events`) could recover a redacted SSN by hashing its 10^9 candidates.
@Suite("request_digest is keyed with the data dir's secret", .serialized, .timeLimit(.minutes(1)))
struct RequestDigestTests {
    private let body = #"{"query":"My SSN is 078-05-1120","context":{"ssn":"078-05-1120"},"run_id":"ssn-1"}"#

    /// Runs `body` to its end and returns its frames.
    private func run(_ server: TestServer, _ provider: FakeProvider) async throws -> [ClientFrame] {
        let stream = try await query(server, body)
        provider.flash.send(.complete("Quick."))
        // Pro answers only once Flash's frame is out: otherwise Pro may win and supersede Flash.
        let preliminary = try #require(try await stream.next())
        provider.pro.send(.complete("Verified."))
        return [preliminary] + (try await stream.rest())
    }

    @Test("The journaled digest is no plain hash of the request; the key file is private and not journaled; equal requests match across restarts")
    func keyedDigest() async throws {
        let directory = try TemporaryDirectory()
        let provider = FakeProvider()
        let (original, digest) = try await TestServer.with(provider: provider, directory: directory) { server in
            let frames = try await run(server, provider)
            guard case .runStarted(let started)? = try events(server, RunID("ssn-1")!).first else {
                throw JournalError(.invalidEntry, "the run does not start with run_started")
            }
            return (frames, started.requestDigest)
        }
        #expect(digest.count == 64)
        // What an attacker holding the journal would compute for a guessed SSN: it must not match.
        let guess = #"{"context":{"ssn":"078-05-1120"},"query":"My SSN is 078-05-1120"}"#
        #expect(digest != ChainHash.hex(of: Array(guess.utf8)), "the digest is a plain SHA-256 of the request")

        let keyPath = directory.path + "/request-digest.key"
        let attributes = try FileManager.default.attributesOfItem(atPath: keyPath)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let key = try String(contentsOfFile: keyPath, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(key.count == 64 && key.allSatisfy(\.isHexDigit))

        // A restart on the same data dir keeps the key: the same request replays, another is a conflict.
        let second = FakeProvider()
        try await TestServer.with(provider: second, directory: directory) { server in
            let journal = try server.journal.entries(from: 1).map(\.text).joined(separator: "\n")
            #expect(!journal.contains(key), "the key reached the journal")
            let again = try await query(server, body)
            #expect(try await again.rest() == original)
            #expect(second.flash.calls == 0 && second.pro.calls == 0)
            let conflict = try await HTTPTestClient.send(
                server.baseURL, "/api/reasoning/query", method: .POST, body: #"{"query":"My SSN is 078-05-1121","run_id":"ssn-1"}"#
            )
            #expect(conflict.status == 409)
        }
    }
}
