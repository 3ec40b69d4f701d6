import AsyncHTTPClient
import Foundation
import Synchronization
import NIOCore
import NIOHTTP1
import TandemFleet
import TandemJournal
import TandemTestSupport
import Testing

/// `tandem serve` processes shipping to one PostgreSQL, crashed and starved on purpose, and the
/// fleet commands run against what they shipped.
@Suite("serve with a fleet store, as processes", .enabled(if: postgresAvailable, postgresSkipReason), .serialized, .timeLimit(.minutes(3)))
struct FleetServeTests {
    /// A `serve` child on a port it picks, once it listens.
    struct Node {
        let name: String
        let directory: TemporaryDirectory
        var child: RunningTandem
        var port: Int

        static func start(_ name: String, url: String, directory: TemporaryDirectory? = nil, extra: [String: String] = [:]) async throws -> Node {
            let directory = try directory ?? TemporaryDirectory(prefix: "tandem-\(name)")
            var environment = [
                "TANDEM_SCRIPTED_FLASH_MS": "1", "TANDEM_SCRIPTED_PRO_MS": "3", "LOG_LEVEL": "info", "GEMINI_API_KEY": "",
                "TANDEM_FLEET_URL": url, "TANDEM_NODE_ID": name, "TANDEM_FLEET_BATCH": "50", "TANDEM_DURABILITY": "async",
            ]
            environment.merge(extra) { $1 }
            let (child, port) = try await RunningTandem.serve(["--data-dir", directory.path], environment: environment)
            return Node(name: name, directory: directory, child: child, port: port)
        }

        func health() async throws -> [String: Any] {
            let response = try await get("http://127.0.0.1:\(port)/health")
            return try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any] ?? [:]
        }

        func fleetHealth() async throws -> [String: Any] {
            try await health()["fleet"] as? [String: Any] ?? [:]
        }

        /// How much nicer the shipper's reader thread ("TP-#0", a one-thread NIOThreadPool) runs
        /// than the process's main thread, from `/proc`; `nil` while there is no reader thread.
        func readerNicenessAboveMain() throws -> Int? {
            let pid = child.process.processIdentifier
            func nice(_ stat: String) -> Int? {
                guard let close = stat.lastIndex(of: ")") else { return nil }
                let fields = stat[stat.index(after: close)...].split(separator: " ")
                return fields.count > 16 ? Int(fields[16]) : nil
            }
            guard let main = nice(try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) else { return nil }
            for task in try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task") {
                guard (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/comm", encoding: .utf8))?.hasPrefix("TP-#") == true,
                      let reader = nice(try String(contentsOfFile: "/proc/\(pid)/task/\(task)/stat", encoding: .utf8)) else { continue }
                return reader - main
            }
            return nil
        }
    }

    static func get(_ url: String) async throws -> (status: Int, headers: [String: String], body: String) {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(5))
        let body = try await response.body.collect(upTo: 1 << 24)
        var headers: [String: String] = [:]
        for header in response.headers { headers[header.name.lowercased()] = header.value }
        return (Int(response.status.code), headers, String(buffer: body))
    }

    /// Waits (polling /health, bounded) until the node reports no lag and no error.
    static func waitCaughtUp(_ node: Node) async throws {
        for _ in 0..<600 {
            let fleet = try await node.fleetHealth()
            if fleet["lag_entries"] as? Int == 0, fleet["last_error"] is NSNull || fleet["last_error"] == nil { return }
            // Polling /health is the only way to watch another process's shipper; bounded.
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("node \(node.name) did not catch up: \(try await node.fleetHealth())")
    }

    @Test("three nodes under load: kill -9 of a serve mid-batch, PostgreSQL down and back: every node's rows equal its journal replay, verify exits 0")
    func threeNodesCrashAndOutage() async throws {
        let server = try PostgresTestServer()
        defer { server.stop() }
        let url = try server.makeDatabase()
        // node-1 kills itself (SIGKILL) inside the ship transaction that reaches seq 120.
        var nodes = [
            try await Node.start("node-1", url: url, extra: ["TANDEM_FLEET_TEST_KILL_BEFORE_COMMIT_SEQ": "120"]),
            try await Node.start("node-2", url: url),
            try await Node.start("node-3", url: url),
        ]
        var loaders = nodes.map { node in Task { await QueryLoad.run(port: node.port, clients: 1) } }
        // In async durability the shipper's reader yields to serving (once it has started).
        var niceness: Int?
        for _ in 0..<400 where niceness == nil {
            niceness = try nodes[1].readerNicenessAboveMain()
            if niceness == nil { try await Task.sleep(for: .milliseconds(25)) }
        }
        #expect(niceness == Int(FleetShipper.Configuration.yieldingReaderNiceness))

        // Until node-1 dies by its own fault point (the suite's time limit ends a wait for a node
        // that never reaches it).
        #expect(await nodes[0].child.exited().status == SIGKILL)
        loaders[0].cancel()
        _ = await loaders[0].value
        nodes[0] = try await Node.start("node-1", url: url, directory: nodes[0].directory)
        loaders[0] = Task { [port = nodes[0].port] in await QueryLoad.run(port: port, clients: 1) }
        func headSeq(_ health: [String: Any]) -> Int { (health["journal"] as? [String: Any])?["head_seq"] as? Int ?? 0 }
        let restartedAt = headSeq(try await nodes[0].health())

        // PostgreSQL crashes and stays down while the nodes keep serving.
        server.stop(immediate: true)
        let before = headSeq(try await nodes[1].health())
        var down: [String: Any] = [:]
        // Polling /health is the only way to watch another process; bounded.
        for _ in 0..<400 {
            down = try await nodes[1].health()
            if (down["fleet"] as? [String: Any])?["last_error"] is String, headSeq(down) > before { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(down["status"] as? String == "ok", "serving must not depend on PostgreSQL")
        #expect((down["fleet"] as? [String: Any])?["last_error"] is String)
        #expect(headSeq(down) > before, "runs went on while PostgreSQL was down")
        try server.start()

        // The restarted node has finished runs of its own (a run is about eight entries) before
        // the load stops. Polling /health is the only way to watch another process; bounded.
        for _ in 0..<400 where headSeq(try await nodes[0].health()) <= restartedAt + 20 {
            try await Task.sleep(for: .milliseconds(50))
        }
        for loader in loaders { loader.cancel() }
        for loader in loaders { #expect(await loader.value > 0) }
        for node in nodes { try await Self.waitCaughtUp(node) }

        // Fleet-wide reads from another node: record, events and a replayed stream of node-1's run.
        let replay1 = try TandemExecutable.run(["journal", "replay", "--data-dir", nodes[0].directory.path, "--type", "done"])
        let runID = try #require(replay1.stdout.split(separator: "\n").first.flatMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["run_id"] as? String
        })
        let record = try await Self.get("http://127.0.0.1:\(nodes[1].port)/api/runs/\(runID)")
        #expect(record.status == 200)
        #expect(record.headers["x-tandem-node"] == "node-1")
        #expect(record.body.contains("\"run_id\":\"\(runID)\""))
        let local = try await Self.get("http://127.0.0.1:\(nodes[0].port)/api/runs/\(runID)")
        #expect(local.body == record.body, "the fleet's record equals the node's own")
        let events = try await Self.get("http://127.0.0.1:\(nodes[2].port)/api/runs/\(runID)/events")
        #expect(events.headers["x-tandem-node"] == "node-1")
        let localEvents = try await Self.get("http://127.0.0.1:\(nodes[0].port)/api/runs/\(runID)/events")
        #expect(events.body == localEvents.body)
        let stream = try await Self.get("http://127.0.0.1:\(nodes[1].port)/api/runs/\(runID)/stream")
        #expect(stream.headers["x-tandem-node"] == "node-1")
        #expect(stream.body.contains("event: done"))
        #expect(try await Self.get("http://127.0.0.1:\(nodes[1].port)/api/runs/unknown-run").status == 404)

        let metrics = try await Self.get("http://127.0.0.1:\(nodes[1].port)/metrics")
        #expect(metrics.body.contains("tandem_fleet_lag_entries{node_id=\"node-2\"} 0"))
        #expect(metrics.body.contains("tandem_fleet_ship_errors_total{node_id=\"node-2\"}"))

        for node in nodes { node.child.send(SIGTERM) }
        for node in nodes { #expect(node.child.wait().status == 0) }

        for node in nodes {
            let replay = try TandemExecutable.run(["journal", "replay", "--data-dir", node.directory.path])
            #expect(replay.status == 0)
            let stored = try storedLines(server, url: url, node: node.name)
            #expect(stored.gapless, "\(node.name) has gaps")
            #expect(stored.lines == replay.stdout.split(separator: "\n").map(String.init), "\(node.name) differs from its journal")
            let verify = try TandemExecutable.run(["fleet", "verify", "--data-dir", node.directory.path, "--url", url])
            #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
            #expect(verify.stdout.contains("compared with the local journal"))
        }
        let status = try TandemExecutable.run(["fleet", "status", "--json", "--url", url])
        #expect(status.status == 0)
        #expect(status.stdout.contains("\"node_id\":\"node-3\""))
        let list = try TandemExecutable.run(["runs", "list", "--fleet", "--url", url, "--limit", "5"])
        #expect(list.status == 0 && list.stdout.split(separator: "\n").count == 6)
        let show = try TandemExecutable.run(["runs", "show", runID, "--fleet", "--json", "--url", url])
        #expect(show.status == 0 && show.stdout.contains("\"node_id\":\"node-1\""))
    }

    @Test("sync durability: frames wait while PostgreSQL is down; once the client has done, deleting the node's data dir loses nothing")
    func syncDurabilityLosesNothing() async throws {
        let server = try PostgresTestServer()
        defer { server.stop() }
        let url = try server.makeDatabase()
        let node = try await Node.start("node-sync", url: url, extra: ["TANDEM_FLEET_DURABILITY": "sync"])
        // Warm up: the schema is migrated and one run went through.
        _ = try await Self.query(port: node.port, runID: "sync-warm")
        // Frames wait for the shipper here, so its reader runs at serving's priority.
        #expect(try node.readerNicenessAboveMain() == 0)

        server.stop(immediate: true)
        let finished = Flag()
        let client = Task { [port = node.port] in
            let body = try await Self.query(port: port, runID: "sync-held")
            finished.set()
            return body
        }
        // Polling /health is the only way to see the other process's shipper fail; bounded.
        var failing = false
        for _ in 0..<400 where !failing {
            failing = (try await node.fleetHealth())["last_error"] is String
            if !failing { try await Task.sleep(for: .milliseconds(25)) }
        }
        #expect(failing, "the shipper never noticed PostgreSQL was down")
        // A run of a few milliseconds, seconds later: its frames are held until its entries ship.
        #expect(!finished.isSet)
        #expect(try await Self.get("http://127.0.0.1:\(node.port)/api/runs/sync-held/events").status == 200)
        try server.start()
        let body = try await client.value
        #expect(body.contains("event: done"))

        node.child.send(SIGKILL)
        _ = node.child.wait()
        try FileManager.default.removeItem(atPath: node.directory.path)
        let rows = try server.psql("SELECT type FROM tandem.journal WHERE node_id = 'node-sync' AND run_id = 'sync-held' ORDER BY seq", url: url)
        #expect(rows.split(separator: "\n").last == "done")
    }


    /// Posts a query with `runID` and returns the whole stream.
    static func query(port: Int, runID: String) async throws -> String {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/api/reasoning/query")
        request.method = .POST
        request.body = .bytes(ByteBuffer(string: #"{"query":"keep it","run_id":"\#(runID)"}"#))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        return String(buffer: try await response.body.collect(upTo: 1 << 20))
    }

    @Test("a TANDEM_NODE_ID that differs from the data dir's stops serve with a sentence")
    func nodeIDMismatchStopsServe() throws {
        let directory = try TemporaryDirectory()
        try Data("node-a\n".utf8).write(to: URL(fileURLWithPath: directory.path + "/node_id"))
        let result = try TandemExecutable.run(
            ["serve", "--port", "0", "--data-dir", directory.path], environment: ["TANDEM_NODE_ID": "node-b", "GEMINI_API_KEY": ""]
        )
        #expect(result.status != 0)
        #expect((result.stdout + result.stderr).contains("this data dir belongs to node node-a"))
    }

    @Test("fleet ship --once ships a copied data dir; verify on it exits 0, after an edited row it exits 1 naming node and seq")
    func shipOnceAndVerifyCLI() async throws {
        let server = try PostgresTestServer()
        defer { server.stop() }
        let url = try server.makeDatabase()
        let node = try await TestNode("copied-node", runs: 12)
        node.journal.close()
        let migrate = try TandemExecutable.run(["fleet", "migrate", "--url", url])
        #expect(migrate.status == 0 && migrate.stdout.contains("migrated to version 1 (applied 1)"), "\(migrate.stderr)")
        let ship = try TandemExecutable.run(["fleet", "ship", "--once", "--data-dir", node.directory.path, "--url", url])
        #expect(ship.status == 0, "\(ship.stderr)")
        #expect(ship.stdout.contains("node copied-node: shipped through seq"))
        #expect(try TandemExecutable.run(["fleet", "verify", "--data-dir", node.directory.path, "--url", url]).status == 0)
        try server.psql("UPDATE tandem.journal SET line = replace(line, 'question', 'Question') WHERE seq = 5", url: url)
        let verify = try TandemExecutable.run(["fleet", "verify", "--node", "copied-node", "--url", url])
        #expect(verify.status == 1)
        #expect(verify.stdout.contains("node copied-node seq 5"))
    }
}

/// A flag one task sets and another reads.
final class Flag: Sendable {
    private let value = Mutex(false)

    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}
