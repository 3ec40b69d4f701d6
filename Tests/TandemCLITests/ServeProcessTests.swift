import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import TandemDomain
import TandemJournal
import TandemProjections
import TandemRuns
import TandemTestSupport
import Testing

/// `tandem serve` and the operator commands as separate processes sharing a data dir.
@Suite("serve and operator commands as processes", .serialized, .timeLimit(.minutes(2)))
struct ServeProcessTests {
    /// A port that was free a moment ago.
    static func freePort() throws -> Int {
        try FreePort.next()
    }

    /// Starts `serve` with fast scripted models (and `environment` on top) on a free port;
    /// returns it once `/health` answers.
    static func startServe(_ directory: TemporaryDirectory, environment: [String: String] = [:]) async throws -> (RunningTandem, Int) {
        let port = try Self.freePort()
        var settings = ["TANDEM_SCRIPTED_FLASH_MS": "1", "TANDEM_SCRIPTED_PRO_MS": "3", "LOG_LEVEL": "error", "GEMINI_API_KEY": ""]
        settings.merge(environment) { $1 }
        let child = try RunningTandem(["serve", "--port", "\(port)", "--data-dir", directory.path], environment: settings)
        // Polling: the child reports nothing when it listens; /health is the only sign.
        for _ in 0..<200 {
            if let response = try? await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/health"), timeout: .seconds(1)),
                response.status == .ok
            {
                return (child, port)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        child.send(SIGKILL)
        throw CancellationError()
    }

    /// Runs queries against `port` from `clients` tasks until cancelled; returns how many finished.
    private func load(port: Int, clients: Int) async -> Int {
        await QueryLoad.run(port: port, clients: clients)
    }

    @Test("SIGKILL between journal and projection commits: after restart nothing is counted twice")
    func crashDoesNotDoubleCount() async throws {
        let directory = try TemporaryDirectory()
        let (child, port) = try await Self.startServe(directory)
        let loader = Task { await load(port: port, clients: 8) }
        // Killed once the load has committed a good many runs, not after a time that may be too
        // short on a busy machine. Polling: the child appends and nothing tells this process.
        do {
            let reader = try Journal(JournalConfiguration(directory: directory.path, readOnly: true), logger: Logger(label: "test"))
            while try reader.head().seq < 400 { try await Task.sleep(for: .milliseconds(20)) }
            reader.close()
        }
        child.send(SIGKILL)
        _ = child.wait()
        loader.cancel()
        let finished = await loader.value
        #expect(finished > 5, "the load barely ran")

        // Restart: recovery aborts unfinished runs; the projector catches up from its checkpoint.
        let journal = try Journal(JournalConfiguration(directory: directory.path), logger: Logger(label: "test"))
        try await CrashRecovery.abortUnfinishedRuns(in: journal, logger: Logger(label: "test"))
        let projector = Projector(journal: journal, dataDirectory: directory.path, logger: Logger(label: "test"))
        try projector.prepare()
        let live = try #require(projector.store)
        let location = ProjectionLocation(dataDirectory: directory.path + "/aside")
        let rebuilt = try ProjectionRebuild.rebuild(journal: journal, location: location, name: "check")
        #expect(try live.digest() == rebuilt.store.digest())
        let terminal = try journal.entries(from: 1).filter { $0.type == "done" || $0.type == "run_aborted" }.count
        #expect(try live.metrics().runs.values.reduce(0, +) == UInt64(terminal))
        #expect(try journal.verify().isValid)
    }

    @Test("projections rebuild while serve appends: swapped in atomically, the server follows, verify passes")
    func rebuildWhileServing() async throws {
        let directory = try TemporaryDirectory()
        let (child, port) = try await Self.startServe(directory)
        let loader = Task { await load(port: port, clients: 4) }
        try await Task.sleep(for: .milliseconds(500))
        let rebuild = try TandemExecutable.run(["projections", "rebuild", "--data-dir", directory.path])
        #expect(rebuild.status == 0, "\(rebuild.stderr)")
        #expect(rebuild.stdout.contains("events/s"))
        try await Task.sleep(for: .milliseconds(1_500))  // the server notices the swap and keeps appending
        loader.cancel()
        #expect(await loader.value > 0)
        let verify = try TandemExecutable.run(["projections", "rebuild", "--verify", "--data-dir", directory.path])
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        child.send(SIGTERM)
        #expect(child.wait().status == 0)
        let metrics = try TandemExecutable.run(["metrics", "--data-dir", directory.path])
        #expect(metrics.status == 0)
        #expect(metrics.stdout.contains("flash  latency"))
        let list = try TandemExecutable.run(["runs", "list", "--data-dir", directory.path, "--limit", "3"])
        #expect(list.stdout.split(separator: "\n").count == 4)
    }

    @Test("runs show: a timeline, the record and a verified chain; unknown ids exit 1 with a clear message")
    func runsShow() async throws {
        let directory = try TemporaryDirectory()
        do {
            let journal = try Journal(JournalConfiguration(directory: directory.path), logger: Logger(label: "test"))
            try await Workload.append(runs: 8, to: journal)
            journal.close()
        }
        let shown = try TandemExecutable.run(["runs", "show", "run-3", "--data-dir", directory.path])
        #expect(shown.status == 0, "\(shown.stderr)")
        #expect(shown.stdout.contains("flash_timeout"))
        #expect(shown.stdout.contains("status partial"))
        #expect(shown.stdout.contains("chain: verified"))
        let json = try TandemExecutable.run(["runs", "show", "run-3", "--json", "--data-dir", directory.path])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect((object["chain"] as? [String: Any])?["verified"] as? Bool == true)
        #expect((object["timeline"] as? [Any])?.count == Workload.events(forRun: 3).count)
        let unknown = try TandemExecutable.run(["runs", "show", "nope", "--data-dir", directory.path])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("no run 'nope'"))
    }
}

/// `tandem serve` with the gemini provider pointed at a fake Gemini server.
@Suite("serve with gemini, end to end", .serialized, .timeLimit(.minutes(1)))
struct GeminiServeTests {
    @Test("A full SSE run through tandem serve; the journal's completions carry the served version and usage")
    func geminiServe() async throws {
        let upstream = try await FakeUpstream.start()
        upstream.script([], fallback: .answer(chunks: ["It is", " Rayleigh scattering."], version: "gemini-2.5-served-007"))
        let directory = try TemporaryDirectory()
        let port = try ServeProcessTests.freePort()
        let child = try RunningTandem(
            ["serve", "--port", "\(port)", "--data-dir", directory.path],
            environment: ["TANDEM_PROVIDER": "gemini", "GEMINI_API_KEY": "AIzaTESTKEY0123456789abcdefghijklmnopqrs", "GEMINI_BASE_URL": upstream.baseURL, "LOG_LEVEL": "error"]
        )
        defer { child.send(SIGKILL) }
        var healthy = false
        for _ in 0..<200 where !healthy {
            healthy = (try? await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/health"), timeout: .seconds(1)))?.status == .ok
            if !healthy { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(healthy)
        let stream = try await SSEConnection.open("http://127.0.0.1:\(port)", "/api/reasoning/query", body: #"{"query":"Why is the sky blue?","run_id":"gem-1"}"#)
        let frames = try await stream.rest()
        #expect(frames.map(\.event).contains("final"))
        #expect(frames.last?.event == "done")
        child.send(SIGTERM)
        _ = child.wait()
        let replay = try TandemExecutable.run(["journal", "replay", "--run", "gem-1", "--data-dir", directory.path])
        let completed = replay.stdout.split(separator: "\n").filter { $0.contains(#""type":"flash_completed""#) || $0.contains(#""type":"pro_completed""#) }
        // Both models answer at once; when Pro wins, Flash is cancelled as superseded.
        #expect(completed.contains { $0.contains(#""type":"pro_completed""#) })
        for line in completed {
            #expect(line.contains(#""model":"gemini-2.5-served-007""#))
            #expect(line.contains(#""usage":{"input_tokens":7,"output_tokens":4}"#))
        }
        #expect(!replay.stdout.contains("AIzaTESTKEY"))
        #expect(upstream.requests.allSatisfy { $0.headers["x-goog-api-key"] == "AIzaTESTKEY0123456789abcdefghijklmnopqrs" })
        await upstream.stop()
    }
}
