import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import TandemDomain
import TandemJournal
import TandemProjections
import TandemRuns
import TandemHTTPTestSupport
import TandemTestSupport
import Testing

/// `tandem serve` and the operator commands as separate processes sharing a data dir.
@Suite("serve and operator commands as processes", .serialized, .timeLimit(.minutes(2)))
struct ServeProcessTests {
    /// Starts `serve` with fast scripted models (and `environment` on top) on a port it picks;
    /// returns once it listens.
    static func startServe(
        _ directory: TemporaryDirectory, environment: [String: String] = [:], executable: String = TandemExecutable.path
    ) async throws -> (RunningTandem, Int) {
        var settings = ["TANDEM_SCRIPTED_FLASH_MS": "1", "TANDEM_SCRIPTED_PRO_MS": "3", "LOG_LEVEL": "info", "GEMINI_API_KEY": ""]
        settings.merge(environment) { $1 }
        return try await RunningTandem.serve(["--data-dir", directory.path], environment: settings, executable: executable)
    }

    /// Runs queries against `port` from `clients` tasks until cancelled; returns how many finished.
    private func load(port: Int, clients: Int) async -> Int {
        await QueryLoad.run(port: port, clients: clients)
    }

    /// Runs one query as `run` to its end.
    private func query(_ port: Int, run: String) async throws {
        let stream = try await SSEConnection.open("http://127.0.0.1:\(port)", "/api/reasoning/query", body: #"{"query":"one more","run_id":"\#(run)"}"#)
        #expect(try await stream.rest().last?.event == "done")
    }

    @Test("SIGKILL between journal and projection commits: after restart nothing is counted twice")
    func crashDoesNotDoubleCount() async throws {
        let directory = try TemporaryDirectory()
        // The fault point kills serve after the journal commit of the entries that reach seq 400
        // and before the projection commit that applies them.
        let (child, port) = try await Self.startServe(
            directory, environment: ["TANDEM_PROJECTIONS_TEST_KILL_BEFORE_COMMIT_SEQ": "400"], executable: TandemExecutable.faultsPath
        )
        defer { child.send(SIGKILL) }  // when it never reaches its fault point
        let loader = Task { await load(port: port, clients: 8) }
        let exit = await child.exited()
        loader.cancel()
        let finished = await loader.value
        #expect(exit.status == .killed(by: SIGKILL), "serve did not die at its fault point")
        #expect(finished > 5, "the load barely ran")

        // The kill landed between the two commits: the journal holds entries the projections
        // never committed.
        let journal = try Journal(JournalConfiguration(directory: directory.path), logger: Logger(label: "test"))
        let location = ProjectionLocation(dataDirectory: directory.path)
        let name = try #require(location.currentName())
        do {
            let killed = try ProjectionStore(directory: location.path(of: name), name: name, readOnly: true)
            let checkpoint = try killed.checkpoint()
            #expect(checkpoint < 400, "the batch reaching seq 400 was committed to the projections")
            #expect(try journal.head().seq >= 400, "the journal did not commit the batch")
        }

        // Restart: recovery aborts unfinished runs; the projector catches up from its checkpoint.
        try await CrashRecovery.abortUnfinishedRuns(in: journal, logger: Logger(label: "test"))
        let projector = Projector(journal: journal, dataDirectory: directory.path, logger: Logger(label: "test"))
        try projector.prepare()
        let live = try #require(projector.store)
        let aside = ProjectionLocation(dataDirectory: directory.path + "/aside")
        let rebuilt = try ProjectionRebuild.rebuild(journal: journal, location: aside, name: "check")
        #expect(try live.digest() == rebuilt.store.digest())
        let terminal = try journal.entries(from: 1).filter { $0.type == "done" || $0.type == "run_aborted" }.count
        #expect(try live.metrics().runs.values.reduce(0, +) == UInt64(terminal))
        #expect(try journal.verify().isValid)
    }

    @Test("projections rebuild while serve appends: swapped in atomically, the server follows, verify passes")
    func rebuildWhileServing() async throws {
        let directory = try TemporaryDirectory()
        let (child, port) = try await Self.startServe(directory)
        defer { child.send(SIGKILL) }  // when the test fails before it stops serve
        // Runs before the rebuild, so that it has something to fold; more go on during it.
        for index in 0..<5 { try await query(port, run: "before-\(index)") }
        let loader = Task { await load(port: port, clients: 4) }
        let rebuild = try await TandemExecutable.run(["projections", "rebuild", "--data-dir", directory.path])
        #expect(rebuild.status == 0, "\(rebuild.stderr)")
        #expect(rebuild.stdout.contains("events/s"))
        let name = try #require(
            rebuild.stdout.split(separator: "\n").first { $0.hasPrefix("projections rebuilt into ") }?
                .dropFirst("projections rebuilt into ".count).split(separator: ":").first.map(String.init)
        )
        let location = ProjectionLocation(dataDirectory: directory.path)
        #expect(location.currentName() == name)

        // The server picks the rebuilt store up and says so.
        let switched = await child.waitForLog(containing: "switched to a rebuilt projection store")
        #expect(switched?.contains("store=\(name)") == true, "\(switched ?? "serve ended without switching")")
        // A run after the switch is projected into the rebuilt store, not into the one it replaced.
        try await query(port, run: "after-switch")
        let record = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/api/runs/after-switch"), timeout: .seconds(10))
        #expect(record.status == .ok)
        let rebuilt = try ProjectionStore(directory: location.path(of: name), name: name, readOnly: true)
        #expect(try rebuilt.record("after-switch") != nil, "the server kept projecting into the store it had before the rebuild")

        loader.cancel()
        #expect(await loader.value > 0)
        let verify = try await TandemExecutable.run(["projections", "rebuild", "--verify", "--data-dir", directory.path])
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        child.send(SIGTERM)
        #expect(await child.exited().status == .exited(0))
        let metrics = try await TandemExecutable.run(["metrics", "--data-dir", directory.path])
        #expect(metrics.status == 0)
        #expect(metrics.stdout.contains("flash  latency"))
        let list = try await TandemExecutable.run(["runs", "list", "--data-dir", directory.path, "--limit", "3"])
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
        let shown = try await TandemExecutable.run(["runs", "show", "run-3", "--data-dir", directory.path])
        #expect(shown.status == 0, "\(shown.stderr)")
        #expect(shown.stdout.contains("flash_timeout"))
        #expect(shown.stdout.contains("status partial"))
        #expect(shown.stdout.contains("chain: verified"))
        let json = try await TandemExecutable.run(["runs", "show", "run-3", "--json", "--data-dir", directory.path])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect((object["chain"] as? [String: Any])?["verified"] as? Bool == true)
        #expect((object["timeline"] as? [Any])?.count == Workload.events(forRun: 3).count)
        let unknown = try await TandemExecutable.run(["runs", "show", "nope", "--data-dir", directory.path])
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
        let (child, port) = try await RunningTandem.serve(
            ["--data-dir", directory.path],
            environment: ["TANDEM_PROVIDER": "gemini", "GEMINI_API_KEY": "AIzaTESTKEY0123456789abcdefghijklmnopqrs", "GEMINI_BASE_URL": upstream.baseURL, "LOG_LEVEL": "info"]
        )
        defer { child.send(SIGKILL) }
        let stream = try await SSEConnection.open("http://127.0.0.1:\(port)", "/api/reasoning/query", body: #"{"query":"Why is the sky blue?","run_id":"gem-1"}"#)
        let frames = try await stream.rest()
        #expect(frames.map(\.event).contains("final"))
        #expect(frames.last?.event == "done")
        child.send(SIGTERM)
        _ = await child.exited()
        let replay = try await TandemExecutable.run(["journal", "replay", "--run", "gem-1", "--data-dir", directory.path])
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
