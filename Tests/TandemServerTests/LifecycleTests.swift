import Foundation
import NIOHTTP1
import Logging
import TandemDomain
import TandemJournal
import TandemProviders
import TandemRuns
import TandemServer
import TandemHTTPTestSupport
import TandemTestSupport
import Testing

/// Client disconnects, shutdown, crash recovery, idempotency and resume.
@Suite("Run lifecycle over HTTP", .timeLimit(.minutes(1)))
struct LifecycleTests {
    @Test("Client disconnect: both upstream calls are cancelled at once, client_disconnected is journaled, done cancelled")
    func clientDisconnect() async throws {
        let provider = FakeProvider()
        try await TestServer.with(provider: provider) { server in
            let stream = try await query(server)
            let run = try runID(of: stream)
            await provider.flash.waitForCalls(1)
            await provider.pro.waitForCalls(1)
            let reader = Task { try await stream.next() }
            reader.cancel()
            _ = try? await reader.value
            await provider.flash.waitForEnds(1)
            await provider.pro.waitForEnds(1)
            #expect(provider.flash.cancellations == 1)
            #expect(provider.pro.cancellations == 1)
            let all = try await { () async throws -> [DomainEvent] in
                try await waitUntilDone(server, run)
                return try events(server, run)
            }()
            #expect(all.contains { if case .clientDisconnected = $0 { true } else { false } })
            #expect(all.contains(.modelCancelled(.flash, ModelCancelled(reason: .clientDisconnected))))
            #expect(all.contains(.modelCancelled(.pro, ModelCancelled(reason: .clientDisconnected))))
            guard case .done(let done) = all.last else {
                Issue.record("the run did not end with done")
                return
            }
            #expect(done.status == .cancelled)
        }
    }

    @Test("Shutdown with a stream open: the client gets error(server_shutdown) and done; new runs get 503 shutting_down")
    func shutdownWithOpenStream() async throws {
        let provider = FakeProvider()
        let settings = RunSettings(shutdownGrace: .seconds(30))
        try await TestServer.with(provider: provider, settings: settings) { server in
            let stream = try await query(server)
            provider.flash.send(.complete("Quick."))
            #expect(try await stream.next()?.event == "preliminary")
            server.coordinator.beginShutdown()
            let refused = try await HTTPTestClient.send(server.baseURL, "/api/reasoning/query", method: .POST, body: #"{"query":"late"}"#)
            #expect(refused.status == 503)
            #expect(refused.body.contains(#""code":"shutting_down""#))
            #expect(refused.headers.contains { $0.0.lowercased() == "retry-after" })
            // The grace period runs on the injected clock: let it pass.
            await server.clock.waitForSleepers(3)  // grace timer, the deadline scheduler (Pro's deadline), the pinger
            server.clock.advance(by: .seconds(30))
            let rest = try await stream.rest()
            #expect(rest.names == ["error", "done"])
            #expect(rest[0].json["code"] as? String == "server_shutdown")
            #expect(rest[0].json["type"] as? String == "cancelled")
            #expect(rest[1].json["status"] as? String == "partial")
            #expect(provider.pro.cancellations == 1)
        }
    }

    @Test("SIGTERM path: a graceful shutdown of the service group ends open streams with error + done and stops the server")
    func gracefulShutdownOfServiceGroup() async throws {
        let provider = FakeProvider()
        try await TestServer.with(provider: provider, settings: RunSettings(shutdownGrace: .zero)) { server in
            let stream = try await query(server)
            await provider.flash.waitForCalls(1)
            await provider.pro.waitForCalls(1)
            await server.triggerGracefulShutdown()
            let frames = try await stream.rest()
            #expect(frames.names == ["error", "done"])
            #expect(frames[1].json["status"] as? String == "cancelled")
            #expect(provider.flash.cancellations == 1)
            #expect(provider.pro.cancellations == 1)
        }
    }

    @Test("Crash recovery: a run left without done gets run_aborted at start-up; its stream ends with done")
    func crashRecovery() async throws {
        let directory = try TemporaryDirectory()
        do {
            let journal = try Journal(JournalConfiguration(directory: directory.path), logger: Logger(label: "test"))
            let run = RunID("crashed-run")!
            _ = try await journal.append([SampleEvents.all[0], .modelStarted(.flash, ModelStarted(model: "m", attempt: 1))], for: run)
            journal.close()
        }
        try await TestServer.with(provider: FakeProvider(), directory: directory) { server in
            let run = RunID("crashed-run")!
            #expect(try server.journal.openRuns().isEmpty)
            guard case .runAborted = try events(server, run).last else {
                Issue.record("no run_aborted appended")
                return
            }
            let stream = try await SSEConnection.open(server.baseURL, "/api/runs/crashed-run/stream", method: .GET)
            let frames = try await stream.rest()
            #expect(frames.names == ["done"])
            #expect(frames[0].json["status"] as? String == "error")
        }
    }

    @Test("Idempotency: the same run_id and request replays the journaled frames without calling a model; another request gets 409")
    func idempotentReplay() async throws {
        let provider = FakeProvider()
        try await TestServer.with(provider: provider) { server in
            let body = #"{"query":"Same question","context":{"a":1},"run_id":"idem-1"}"#
            let first = try await query(server, body)
            provider.flash.send(.complete("Quick."))
            // Pro answers only once Flash's frame is out: otherwise Pro may win and supersede Flash.
            let preliminary = try #require(try await first.next())
            provider.pro.send(.complete("Verified."))
            let original = [preliminary] + (try await first.rest())
            #expect(original.names == ["preliminary", "final", "done"])

            let again = try await query(server, #"{"context":{"a":1},"query":"Same question","run_id":"idem-1"}"#)
            #expect(again.status == 200)
            #expect(again.header("X-Request-ID") == "idem-1")
            #expect(try await again.rest() == original)
            #expect(provider.flash.calls == 1)
            #expect(provider.pro.calls == 1)

            let viaHeader = try await query(server, #"{"query":"Same question","context":{"a":1}}"#, headers: ["Idempotency-Key": "idem-1"])
            #expect(try await viaHeader.rest() == original)

            let conflict = try await HTTPTestClient.send(
                server.baseURL, "/api/reasoning/query", method: .POST, body: #"{"query":"Other question","run_id":"idem-1"}"#
            )
            #expect(conflict.status == 409)
            #expect(conflict.body.contains(#""code":"run_id_conflict""#))
        }
    }

    @Test("Idempotency while running: the second request follows the live run from the journal")
    func followLiveRun() async throws {
        let provider = FakeProvider()
        try await TestServer.with(provider: provider) { server in
            let body = #"{"query":"Live","run_id":"live-1"}"#
            let first = try await query(server, body)
            await provider.pro.waitForCalls(1)
            provider.flash.send(.complete("Quick."))
            #expect(try await first.next()?.event == "preliminary")
            let follower = try await query(server, body)
            #expect(try await follower.next()?.event == "preliminary")
            provider.pro.send(.complete("Verified."))
            let rest = try await first.rest()
            #expect(try await follower.rest() == rest)
            #expect(provider.pro.calls == 1)
        }
    }

    @Test("GET /api/runs/{id}/stream honours Last-Event-ID and serves 404 for unknown runs")
    func resume() async throws {
        let provider = FakeProvider()
        try await TestServer.with(provider: provider) { server in
            let first = try await query(server, #"{"query":"Resume me","run_id":"resume-1"}"#)
            provider.flash.send(.complete("Quick."))
            provider.pro.send(.complete("Verified."))
            let frames = try await first.rest()
            let preliminaryID = try #require(frames[0].id)

            let resumed = try await SSEConnection.open(
                server.baseURL, "/api/runs/resume-1/stream", method: .GET, headers: ["Last-Event-ID": "\(preliminaryID)"]
            )
            #expect(resumed.header("content-type") == "text/event-stream; charset=utf-8")
            #expect(try await resumed.rest() == Array(frames.dropFirst()))

            let full = try await SSEConnection.open(server.baseURL, "/api/runs/resume-1/stream", method: .GET)
            #expect(try await full.rest() == frames)

            let missing = try await HTTPTestClient.send(server.baseURL, "/api/runs/nope/stream")
            #expect(missing.status == 404)
            #expect(missing.body.contains(#""code":"run_not_found""#))
            let badID = try await HTTPTestClient.send(server.baseURL, "/api/runs/resume-1/stream", headers: ["Last-Event-ID": "abc"])
            #expect(badID.status == 422)
        }
    }

    @Test("Idle streams get : ping comments every TANDEM_SSE_PING_S")
    func pings() async throws {
        let provider = FakeProvider()
        try await TestServer.with(provider: provider, server: ServerConfiguration(ssePingInterval: .seconds(1))) { server in
            let stream = try await query(server)
            await provider.flash.waitForCalls(1)
            await provider.pro.waitForCalls(1)
            for second in 1...3 {
                await server.clock.waitForSleepers(2)  // the deadline scheduler and the pinger
                server.clock.advance(to: .seconds(second))
            }
            provider.flash.send(.complete("Quick."))
            provider.pro.send(.complete("Verified."))
            _ = try await stream.rest()
            #expect(stream.pings >= 3)
        }
    }

    @Test("GET /api/runs/{id}/events returns the run's journal entries in order")
    func eventsEndpoint() async throws {
        let provider = FakeProvider()
        try await TestServer.with(provider: provider) { server in
            let stream = try await query(server, #"{"query":"Events","run_id":"events-1"}"#)
            provider.flash.send(.complete("Quick."))
            provider.pro.send(.complete("Verified."))
            _ = try await stream.rest()
            let response = try await HTTPTestClient.send(server.baseURL, "/api/runs/events-1/events")
            #expect(response.status == 200)
            let array = try #require(try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [[String: Any]])
            #expect(array.map { $0["seq"] as? Int ?? 0 } == (try server.journal.seqs(of: RunID("events-1")!)).map(Int.init))
            #expect(array.first?["type"] as? String == "run_started")
            #expect(array.last?["type"] as? String == "done")
        }
    }
}
