import Foundation
import NIOCore
import NIOHTTP1
import TandemDomain
import TandemJournal
import TandemProviders
import TandemRuns
import TandemServer
import TandemHTTPTestSupport
import TandemTestSupport
import Testing

/// The availability defects of the hardening review (issue 11, items 8–10, 13–15), each shown
/// against a real server.
@Suite("Hardening: availability", .serialized, .timeLimit(.minutes(2)))
struct HardeningTests {
    private static func zeroLatency() -> ScriptedProvider {
        ScriptedProvider(flash: .init(latency: .zero), pro: .init(latency: .zero), clock: ContinuousClock())
    }

    /// Polls `condition` every 20 ms until it holds (or the test's time limit ends it). Polling is
    /// the only way here: what is awaited happens on a NIO event loop or the journal's writer
    /// thread with no hook to wait on.
    private static func eventually(_ condition: () throws -> Bool) async throws {
        while try !condition() { try await Task.sleep(for: .milliseconds(20)) }
    }

    // MARK: Item 8 — recovery after a full file system

    @Test("Full file system: new runs get 503, replays keep working, /health and runs recover by themselves once space is freed", .enabled(if: SmallFileSystem.canMount, "needs root and a tmpfs mount"))
    func recoversAfterDiskFull() async throws {
        let fileSystem: SmallFileSystem
        switch SmallFileSystem.mount(megabytes: 24) {
        case .success(let mounted): fileSystem = mounted
        case .failure(let reason): throw reason
        }
        let directory = try TemporaryDirectory(in: fileSystem.path)
        try await TestServer.with(provider: Self.zeroLatency(), directory: directory) { server in
            let body = #"{"query":"Before the disk filled","run_id":"disk-1"}"#
            let first = try await SSEConnection.open(server.baseURL, "/api/reasoning/query", body: body)
            #expect(try await first.rest().last?.event == "done")

            let filler = fileSystem.fill()
            // Free pages inside the file may take a few more commits; a refusal comes within a bounded number.
            var refusal: (status: UInt, headers: [(String, String)], body: String)?
            for attempt in 0..<2_000 where refusal == nil {
                let response = try await HTTPTestClient.send(
                    server.baseURL, "/api/reasoning/query", method: .POST, body: #"{"query":"fill \#(attempt) \#(String(repeating: "x", count: 2_000))"}"#
                )
                if response.status == 503 { refusal = response }
            }
            let refused = try #require(refusal)
            #expect(refused.body.contains(#""code":"journal_unavailable""#))
            #expect(try await HTTPTestClient.send(server.baseURL, "/health").status == 503)

            // An idempotent replay needs no write: it works while the journal cannot write.
            let replay = try await SSEConnection.open(server.baseURL, "/api/reasoning/query", body: body)
            #expect(replay.status == 200)
            #expect(try await replay.rest().map(\.event).contains("final"))

            try FileManager.default.removeItem(atPath: filler)
            // No request succeeded in between: /health probes the journal and turns 200 by itself.
            #expect(try await HTTPTestClient.send(server.baseURL, "/health").status == 200)
            let after = try await SSEConnection.open(server.baseURL, "/api/reasoning/query", body: #"{"query":"After the disk was freed"}"#)
            #expect(after.status == 200)
            #expect(try await after.rest().last?.event == "done")
        }
    }

    // MARK: Item 9 — a mid-run journal failure

    @Test("Mid-run journal failure: the run is closed in the journal once it can write again, so its followers end", .enabled(if: SmallFileSystem.canMount, "needs root and a tmpfs mount"))
    func midRunFailureIsClosedWhenTheJournalRecovers() async throws {
        let fileSystem: SmallFileSystem
        switch SmallFileSystem.mount(megabytes: 24) {
        case .success(let mounted): fileSystem = mounted
        case .failure(let reason): throw reason
        }
        let directory = try TemporaryDirectory(in: fileSystem.path)
        let provider = FakeProvider()
        try await TestServer.with(provider: provider, directory: directory) { server in
            let stream = try await query(server, #"{"query":"Interrupted","run_id":"mid-1"}"#)
            await provider.flash.waitForCalls(1)
            let follower = try await SSEConnection.open(server.baseURL, "/api/runs/mid-1/stream", method: .GET)
            let filler = fileSystem.fill()
            // Flash's answer is a large entry: its append needs new pages and fails.
            provider.flash.send(.complete(String(repeating: "Quick. ", count: 200_000)))
            let frames = try await stream.rest()
            #expect(frames.map(\.event).suffix(2) == ["error", "done"])
            #expect(frames.contains { $0.data.contains("stream_failure") })
            await provider.pro.waitForEnds(1)

            try FileManager.default.removeItem(atPath: filler)
            // The run's close is tried at once (it may fit in a free page even on the full disk),
            // then retried with back-off on the injected clock: move time on until it is
            // journaled. Polling: whether the first try fitted depends on LMDB's free pages.
            let run = try #require(RunID("mid-1"))
            while try !server.journal.entries(of: run).contains(where: { $0.type == "run_aborted" }) {
                server.clock.advance(by: .milliseconds(250))
                try await Task.sleep(for: .milliseconds(10))
            }
            // The follower ends with the run's terminal frame, journaled once the journal took writes again.
            let followed = try await follower.rest()
            #expect(followed.last?.event == "done")
            let types = try server.journal.entries(of: #require(RunID("mid-1"))).map(\.type)
            #expect(types.last == "run_aborted")
        }
    }

    @Test("Shutdown: followers of a run that never ends are ended once the runs are drained")
    func followersEndAtShutdown() async throws {
        let provider = FakeProvider()
        try await TestServer.with(provider: provider, settings: RunSettings(shutdownGrace: .seconds(1))) { server in
            let stream = try await query(server, #"{"query":"Long","run_id":"long-1"}"#)
            await provider.flash.waitForCalls(1)
            let follower = try await SSEConnection.open(server.baseURL, "/api/runs/long-1/stream", method: .GET)
            #expect(server.coordinator.activeFollowers == 1)
            server.coordinator.beginShutdown()
            await server.clock.waitForSleepers(3)  // the grace timer, the deadline scheduler, the pinger
            server.clock.advance(by: .seconds(1))
            #expect(try await stream.rest().last?.event == "done")
            // The follower got the run's end (it was journaled before the drain finished), then its stream closed.
            #expect(try await follower.rest().last?.event == "done")
            try await Self.eventually { server.coordinator.activeFollowers == 0 }
        }
    }

    // MARK: Item 10 — a client that stops reading

    @Test("Pipelined stream requests on a socket that is never read: dropped after the write timeout, handlers freed")
    func stalledFollowersAreDropped() async throws {
        let provider = FakeProvider()
        let configuration = ServerConfiguration(writeTimeout: .seconds(2))
        try await TestServer.with(provider: provider, server: configuration) { server in
            // A replay of this run is larger than the kernel's largest socket buffer (4 MiB here).
            let done = try await query(server, #"{"query":"Big","run_id":"big-1"}"#)
            provider.flash.send(.complete(String(repeating: "Many words. ", count: 250_000)))
            provider.pro.send(.complete(String(repeating: "More words. ", count: 250_000)))
            #expect(try await done.text().contains("event: done"))
            let client = try StalledClient(port: server.port)
            try client.send(String(repeating: "GET /api/runs/big-1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", count: 5))
            try await Self.eventually { server.coordinator.activeFollowers > 0 }
            try await Self.eventually { server.coordinator.activeFollowers == 0 && client.serverClosed() }
        }
    }

    @Test("A live run whose client stops reading: dropped after the write timeout and journaled as client_disconnected")
    func stalledLiveClientIsDisconnected() async throws {
        let provider = FakeProvider()
        let configuration = ServerConfiguration(writeTimeout: .seconds(2))
        try await TestServer.with(provider: provider, server: configuration) { server in
            let client = try StalledClient(port: server.port)
            let body = #"{"query":"Stalled","run_id":"stall-1"}"#
            try client.send("POST /api/reasoning/query HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
            await provider.flash.waitForCalls(1)
            // More than the kernel's largest socket buffer (4 MiB here): the write must wait for the client.
            provider.flash.send(.complete(String(repeating: "A long preliminary answer. ", count: 250_000)))
            let run = try #require(RunID("stall-1"))
            try await waitForEntry(server, run, type: "client_disconnected")
            await provider.pro.waitForEnds(1)
            #expect(provider.pro.cancellations == 1)
            #expect(try await journaledTypes(server, run).last == "done")
        }
    }

    // MARK: Item 13 — followers

    @Test("Followers beyond TANDEM_MAX_FOLLOWERS get 503 overloaded; a released place is reused")
    func followerLimit() async throws {
        let provider = FakeProvider()
        try await TestServer.with(provider: provider, settings: RunSettings(maxFollowers: 1)) { server in
            let stream = try await query(server, #"{"query":"Followed","run_id":"fol-1"}"#)
            await provider.flash.waitForCalls(1)
            let first = try await SSEConnection.open(server.baseURL, "/api/runs/fol-1/stream", method: .GET)
            #expect(first.status == 200)
            let second = try await HTTPTestClient.send(server.baseURL, "/api/runs/fol-1/stream")
            #expect(second.status == 503)
            #expect(second.body.contains(#""code":"overloaded""#))
            provider.flash.send(.complete("Quick."))
            provider.pro.send(.complete("Verified."))
            _ = try await stream.rest()
            _ = try await first.rest()
            try await Self.eventually { server.coordinator.activeFollowers == 0 }
            let third = try await SSEConnection.open(server.baseURL, "/api/runs/fol-1/stream", method: .GET)
            #expect(third.status == 200)
            #expect(try await third.rest().last?.event == "done")
        }
    }

    // MARK: Item 14 — rate limiting and slow bodies

    @Test("Rate limit is checked before the body is read: a limited client is refused without sending its body")
    func rateLimitBeforeBody() async throws {
        let configuration = ServerConfiguration(rateLimitPerMinute: 1)
        try await TestServer.with(provider: Self.zeroLatency(), server: configuration) { server in
            let allowed = try await SSEConnection.open(server.baseURL, "/api/reasoning/query", body: #"{"query":"one"}"#)
            _ = try await allowed.rest()
            let client = try StalledClient(port: server.port)
            // Headers announce a body that never comes: the refusal must not wait for it.
            try client.send("POST /api/reasoning/query HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
            let answer = await client.receive(until: "rate_limited")
            #expect(answer.hasPrefix("HTTP/1.1 429"))
        }
    }

    @Test("A request body slower than TANDEM_REQUEST_BODY_TIMEOUT_S gets 408 request_timeout and the connection closes")
    func slowBodyTimesOut() async throws {
        let configuration = ServerConfiguration(requestBodyTimeout: .seconds(5))
        try await TestServer.with(provider: Self.zeroLatency(), server: configuration) { server in
            let client = try StalledClient(port: server.port)
            try client.send("POST /api/reasoning/query HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"q")
            // The body timeout runs on the server's injected clock: let it pass.
            await server.clock.waitForSleepers(2)  // the body timer and the pinger
            server.clock.advance(by: .seconds(5))
            let answer = await client.receive(until: "request_timeout")
            #expect(answer.hasPrefix("HTTP/1.1 408"))
            #expect(answer.lowercased().contains("connection: close"))
        }
    }

    // MARK: Item 15 — a resume after the end

    @Test("Last-Event-ID at or after done answers 204 No Content (an EventSource then stops reconnecting)")
    func resumeAfterDoneIs204() async throws {
        try await TestServer.with(provider: Self.zeroLatency()) { server in
            let stream = try await SSEConnection.open(server.baseURL, "/api/reasoning/query", body: #"{"query":"Ended","run_id":"end-1"}"#)
            let frames = try await stream.rest()
            let doneID = try #require(frames.last?.id)
            let atDone = try await HTTPTestClient.send(server.baseURL, "/api/runs/end-1/stream", headers: ["Last-Event-ID": "\(doneID)"])
            #expect(atDone.status == 204)
            let before = try await SSEConnection.open(server.baseURL, "/api/runs/end-1/stream", method: .GET, headers: ["Last-Event-ID": "\(doneID - 1)"])
            #expect(before.status == 200)
            #expect(try await before.rest().map(\.event) == ["done"])
        }
    }
}
