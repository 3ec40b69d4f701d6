import Foundation
import TandemJournal
import TandemHTTPTestSupport
import TandemTestSupport
import Testing

/// SPEC §11 "Heavy reads": `GET /api/journal` answers from the counts the journal's writer keeps.
@Suite("GET /api/journal without a scan", .timeLimit(.minutes(1)))
struct JournalCountsTests {
    private func summary(_ server: TestServer) async throws -> [String: Any] {
        let response = try await HTTPTestClient.send(server.baseURL, "/api/journal")
        #expect(response.status == 200)
        return (try? JSONSerialization.jsonObject(with: Data(response.body.utf8))) as? [String: Any] ?? [:]
    }

    @Test("Entries, bytes and open runs are right after appends, a restart and an open run, and no request reads the journal to count it")
    func countsWithoutScans() async throws {
        let directory = try TemporaryDirectory()
        let provider = FakeProvider()
        try await TestServer.with(provider: provider, directory: directory) { server in
            for run in ["a", "b"] {
                provider.flash.send(.complete("quick \(run)"))
                provider.pro.send(.complete("verified \(run)"))
                _ = try await query(server, #"{"query":"q","run_id":"\#(run)"}"#).rest()
            }
        }
        try await TestServer.with(provider: provider, directory: directory) { server in
            let before = try server.journal.stats()
            let scans = server.journal.sizeCounts
            for _ in 0..<5 {
                let body = try await summary(server)
                #expect(body["entries"] as? Int == Int(before.entries))
                #expect(body["bytes"] as? Int == Int(before.lineBytes))
                #expect(body["head_seq"] as? Int == Int(before.head.seq))
                #expect(body["head_hash"] as? String == before.head.hashHex)
                #expect(body["open_runs"] as? Int == 0)
                #expect(body["last_ts"] as? String == before.lastTimestamp)
            }
            // A run in progress: its entries and its openness are counted by the commits themselves.
            let stream = try await query(server, #"{"query":"still running","run_id":"c"}"#)
            await provider.flash.waitForCalls(1)
            let live = try await summary(server)
            #expect(live["open_runs"] as? Int == 1)
            #expect(server.journal.sizeCounts == scans, "GET /api/journal must not read the journal to count it")
            // The run goes on meanwhile: check against the journal up to the head the answer names.
            let head = UInt64(live["head_seq"] as? Int ?? 0)
            let lines = try server.journal.entries(from: 1, through: head)
            #expect(live["entries"] as? Int == lines.count)
            #expect(live["bytes"] as? Int == lines.reduce(0) { $0 + $1.line.count })
            provider.flash.send(.complete("quick c"))
            provider.pro.send(.complete("verified c"))
            _ = try await stream.rest()
            let after = try server.journal.stats()
            let scansAfter = server.journal.sizeCounts
            let done = try await summary(server)
            #expect(done["open_runs"] as? Int == 0)
            #expect(done["bytes"] as? Int == Int(after.lineBytes))
            #expect(done["entries"] as? Int == Int(after.entries))
            #expect(server.journal.sizeCounts == scansAfter)
        }
    }
}
