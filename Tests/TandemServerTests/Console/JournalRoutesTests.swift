import Foundation
import Hummingbird
import Logging
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import TandemJournal
import TandemHTTPTestSupport
import TandemTestSupport
import Testing

@testable import TandemServer

/// The integrity endpoints behind the console's chain badge and journal page.
@Suite("Journal and run verify endpoints", .serialized, .timeLimit(.minutes(1)))
struct JournalRoutesTests {
    private func json(_ body: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
    }

    /// Makes two finished runs, `a` and `b`, in `directory`, and returns the seq of `a`'s `pro_completed`.
    private func twoRuns(in directory: TemporaryDirectory) async throws -> UInt64 {
        let provider = FakeProvider()
        return try await TestServer.with(provider: provider, directory: directory) { server in
            for run in ["a", "b"] {
                let stream = try await query(server, #"{"query":"q","run_id":"\#(run)"}"#)
                provider.flash.send(.complete("quick \(run)"))
                // Pro answers only once the preliminary is out: otherwise Pro may win and supersede Flash.
                _ = try await stream.next()
                provider.pro.send(.complete("verified \(run)"))
                _ = try await stream.rest()
            }
            return try #require(try server.journal.entries(of: RunID("a")!).first { $0.type == "pro_completed" }?.seq)
        }
    }

    @Test("GET /api/runs/{id}/verify: ok with the run's seq range; 404 for an unknown run, 422 for a bad id")
    func runVerifyIntact() async throws {
        let directory = try TemporaryDirectory()
        _ = try await twoRuns(in: directory)
        try await TestServer.with(provider: FakeProvider(), directory: directory) { server in
            let entries = try server.journal.entries(of: RunID("b")!)
            let response = try await HTTPTestClient.send(server.baseURL, "/api/runs/b/verify")
            #expect(response.status == 200)
            let body = json(response.body)
            #expect(body["ok"] as? Bool == true)
            #expect(body["first_seq"] as? Int == Int(entries.first!.seq))
            #expect(body["last_seq"] as? Int == Int(entries.last!.seq))
            #expect(body["entries"] as? Int == entries.count)
            #expect(body["broken_at"] == nil)
            let unknown = try await HTTPTestClient.send(server.baseURL, "/api/runs/nobody/verify")
            #expect(unknown.status == 404)
            let invalid = try await HTTPTestClient.send(server.baseURL, "/api/runs/no%20such/verify")
            #expect(invalid.status == 422)
        }
    }

    @Test("An altered entry: the run's verify and POST /api/journal/verify name its seq; GET /api/journal shows the last verify")
    func alteredEntry() async throws {
        let directory = try TemporaryDirectory()
        let altered = try await twoRuns(in: directory)
        try RawLMDB.withEnvironment(directory.path) { raw in
            var line = try #require(try raw.line(altered))
            let index = try #require(line.firstIndex(of: UInt8(ascii: "v")))  // "verified a"
            line[index] = UInt8(ascii: "V")
            try raw.replace(altered, with: line)
        }
        try await TestServer.with(provider: FakeProvider(), directory: directory) { server in
            let run = json(try await HTTPTestClient.send(server.baseURL, "/api/runs/a/verify").body)
            #expect(run["ok"] as? Bool == false)
            #expect(run["broken_at"] as? Int == Int(altered))
            let other = json(try await HTTPTestClient.send(server.baseURL, "/api/runs/b/verify").body)
            #expect(other["ok"] as? Bool == true)

            let before = json(try await HTTPTestClient.send(server.baseURL, "/api/journal").body)
            #expect(before["last_verify"] == nil)
            #expect(before["verify_in_progress"] as? Bool == false)

            let verify = try await HTTPTestClient.send(server.baseURL, "/api/journal/verify", method: .POST)
            #expect(verify.status == 200)
            let result = json(verify.body)
            #expect(result["ok"] as? Bool == false)
            #expect(result["broken_at"] as? Int == Int(altered))

            let after = json(try await HTTPTestClient.send(server.baseURL, "/api/journal").body)
            let head = try server.journal.head()
            #expect(after["head_seq"] as? Int == Int(head.seq))
            #expect(after["head_hash"] as? String == head.hashHex)
            #expect(after["entries"] as? Int == Int(head.seq))
            #expect((after["bytes"] as? Int ?? 0) > 0)
            #expect((after["last_verify"] as? [String: Any])?["broken_at"] as? Int == Int(altered))
        }
    }

    @Test("POST /api/journal/verify on an intact journal: ok, every entry checked")
    func intactJournal() async throws {
        let directory = try TemporaryDirectory()
        _ = try await twoRuns(in: directory)
        try await TestServer.with(provider: FakeProvider(), directory: directory) { server in
            let result = json(try await HTTPTestClient.send(server.baseURL, "/api/journal/verify", method: .POST).body)
            #expect(result["ok"] as? Bool == true)
            #expect(result["entries"] as? Int == Int(try server.journal.head().seq))
            #expect(result["head_hash"] as? String == (try server.journal.head().hashHex))
        }
    }

    @Test("One verify at a time: a second begin is refused until the first finishes, and the outcome is kept")
    func oneAtATime() {
        let verifications = JournalVerifications()
        #expect(verifications.begin())
        #expect(verifications.isRunning)
        #expect(!verifications.begin())
        let outcome = JournalVerifications.Outcome(
            ok: true, entries: 3, headSeq: 3, headHash: String(repeating: "a", count: 64), finishedAt: "2026-12-02T00:00:00.000000Z", durationMs: 1
        )
        verifications.finish(outcome)
        #expect(!verifications.isRunning)
        #expect(verifications.last == outcome)
        #expect(verifications.begin())
        verifications.finish(nil)
        #expect(verifications.last == outcome)
    }

    @Test("POST /api/journal/verify while another verify runs: 409 verify_in_progress; afterwards it runs")
    func conflict() async throws {
        try await TestServer.with(provider: FakeProvider()) { server in
            let verifications = JournalVerifications()
            #expect(verifications.begin())  // a verify in progress
            let router = Router(context: TandemRequestContext.self)
            JournalRoutes(
                journal: server.journal, verifications: verifications, runVerifications: RunVerifications(pool: BlockingPool()),
                pool: BlockingPool(), clock: server.clock
            ).register(on: router)
            let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
            let application = Application(
                router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                onServerRunning: { portSink.yield($0.localAddress?.port ?? 0) }
            )
            let group = ServiceGroup(configuration: .init(services: [application], logger: Logger(label: "verify-conflict")))
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                var iterator = ports.makeAsyncIterator()
                let base = "http://127.0.0.1:\(try #require(await iterator.next()))"
                let refused = try await HTTPTestClient.send(base, "/api/journal/verify", method: .POST)
                #expect(refused.status == 409)
                #expect(json(refused.body)["code"] as? String == "verify_in_progress")
                let summary = json(try await HTTPTestClient.send(base, "/api/journal").body)
                #expect(summary["verify_in_progress"] as? Bool == true)
                verifications.finish(nil)
                let verified = try await HTTPTestClient.send(base, "/api/journal/verify", method: .POST)
                #expect(verified.status == 200)
                #expect(json(verified.body)["ok"] as? Bool == true)
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
        }
    }

    @Test("Concurrent chain checks of one run share one read of it, on the bounded pool: with the pool's thread busy, eight requests wait for one check")
    func runChecksShared() async throws {
        let directory = try TemporaryDirectory()
        _ = try await twoRuns(in: directory)
        try await TestServer.with(provider: FakeProvider(), directory: directory) { server in
            let threads = NIOThreadPool(numberOfThreads: 1)
            threads.start()
            let pool = BlockingPool(pool: threads)
            let verifications = RunVerifications(pool: pool)
            // The pool's one thread is held until every request has come in.
            let release = DispatchSemaphore(value: 0)
            let (held, holding) = AsyncStream.makeStream(of: Void.self)
            let blocker = Task { try await pool.run { holding.yield(); release.wait() } }
            var heldIterator = held.makeAsyncIterator()
            _ = await heldIterator.next()
            let run = try #require(RunID("a"))
            let journal = server.journal
            let reports = try await withThrowingTaskGroup(of: RunChainReport.self) { group in
                for _ in 0..<8 { group.addTask { try await verifications.report(of: run, in: journal) } }
                while verifications.counts.requests < 8 { try await Task.sleep(for: .milliseconds(1)) }
                #expect(verifications.counts.checks == 1)
                release.signal()
                return try await group.reduce(into: [RunChainReport]()) { $0.append($1) }
            }
            try await blocker.value
            #expect(reports.count == 8)
            #expect(reports.allSatisfy { $0.isValid && $0.entries == reports[0].entries && $0.entries > 0 })
            #expect(verifications.counts.checks == 1)
            // Nothing is kept past a check's end: a later request reads the run again.
            _ = try await verifications.report(of: run, in: journal)
            #expect(verifications.counts.requests == 9 && verifications.counts.checks == 2)
            try await threads.shutdownGracefully()
        }
    }

    @Test("GET /api/metrics carries each histogram's bucket counts next to its bounds")
    func metricsBuckets() async throws {
        let directory = try TemporaryDirectory()
        _ = try await twoRuns(in: directory)
        try await TestServer.with(provider: FakeProvider(), directory: directory) { server in
            let metrics = json(try await HTTPTestClient.send(server.baseURL, "/api/metrics").body)
            let bounds = try #require(metrics["bucket_bounds_ms"] as? [Double])
            #expect(bounds.first == 10 && bounds.last == 81_920 && bounds.count == 14)
            let flash = try #require(((metrics["models"] as? [String: Any])?["flash"] as? [String: Any])?["latency_ms"] as? [String: Any])
            let buckets = try #require(flash["buckets"] as? [Int])
            #expect(buckets.count == bounds.count)
            #expect(buckets.reduce(0, +) == flash["count"] as? Int)
            #expect(flash["count"] as? Int == 2)
        }
    }
}
