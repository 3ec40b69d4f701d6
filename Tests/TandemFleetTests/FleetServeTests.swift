import AsyncHTTPClient
import Foundation
import Synchronization
import NIOCore
import NIOHTTP1
import TandemFleet
import TandemJournal
import TandemHTTPTestSupport
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

        /// Starts `tandem serve` as node `name` (`faults`: the `tandem-faults` build, for `extra`'s fault points).
        static func start(
            _ name: String, url: String, directory: TemporaryDirectory? = nil, extra: [String: String] = [:], faults: Bool = false
        ) async throws -> Node {
            let directory = try directory ?? TemporaryDirectory(prefix: "tandem-\(name)")
            var environment = [
                "TANDEM_SCRIPTED_FLASH_MS": "1", "TANDEM_SCRIPTED_PRO_MS": "3", "LOG_LEVEL": "info", "GEMINI_API_KEY": "",
                "TANDEM_FLEET_URL": url, "TANDEM_NODE_ID": name, "TANDEM_FLEET_BATCH": "50", "TANDEM_DURABILITY": "async",
            ]
            environment.merge(extra) { $1 }
            let (child, port) = try await RunningTandem.serve(
                ["--data-dir", directory.path], environment: environment, executable: faults ? TandemExecutable.faultsPath : TandemExecutable.path
            )
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
            let pid = child.pid
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

    /// Waits (polling /health, bounded) until the node runs nothing and then reports no lag and
    /// no error: a run still finishing after its client left would append after "no lag".
    static func waitCaughtUp(_ node: Node) async throws {
        for _ in 0..<600 where try await node.health()["active_runs"] as? Int != 0 {
            try await Task.sleep(for: .milliseconds(50))
        }
        for _ in 0..<600 {
            let fleet = try await node.fleetHealth()
            if fleet["lag_entries"] as? Int == 0, fleet["last_error"] is NSNull || fleet["last_error"] == nil { return }
            // Polling /health is the only way to watch another process's shipper; bounded.
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("node \(node.name) did not catch up: \(try await node.fleetHealth())")
    }

    /// The journal head a node's `/health` reports.
    static func headSeq(_ health: [String: Any]) -> Int { (health["journal"] as? [String: Any])?["head_seq"] as? Int ?? 0 }

    /// Stops `nodes` with SIGTERM and expects each to exit 0.
    static func stop(_ nodes: [Node]) async {
        for node in nodes { node.child.send(SIGTERM) }
        for node in nodes { #expect(await node.child.exited().status == .exited(0), "\(node.name) did not stop cleanly") }
    }

    /// Two nodes on `url`, caught up in the store: node-1 served some runs, node-2 none.
    /// - Returns: the nodes and the run id of one of node-1's finished runs.
    static func twoShippedNodes(_ url: String) async throws -> (nodes: [Node], runID: String) {
        let nodes = [try await Node.start("node-1", url: url), try await Node.start("node-2", url: url)]
        let loader = Task { [port = nodes[0].port] in await QueryLoad.run(port: port, clients: 1) }
        // A run is about eight entries. Polling /health is the only way to watch another process; bounded.
        for _ in 0..<400 where headSeq(try await nodes[0].health()) < 24 {
            try await Task.sleep(for: .milliseconds(50))
        }
        loader.cancel()
        #expect(await loader.value > 0)
        for node in nodes { try await waitCaughtUp(node) }
        let replay = try await TandemExecutable.run(["journal", "replay", "--data-dir", nodes[0].directory.path, "--type", "done"])
        let runID = try #require(replay.stdout.split(separator: "\n").first.flatMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["run_id"] as? String
        })
        return (nodes, runID)
    }

    @Test("in async durability the shipper's reader thread runs niced below serve's main thread")
    func readerThreadYieldsToServing() async throws {
        let server = try PostgresTestServer()
        defer { server.stop() }
        let node = try await Node.start("node-1", url: try server.makeDatabase())
        var niceness: Int?
        // The reader thread appears once the shipper has started; bounded.
        for _ in 0..<400 where niceness == nil {
            niceness = try node.readerNicenessAboveMain()
            if niceness == nil { try await Task.sleep(for: .milliseconds(25)) }
        }
        #expect(niceness == Int(FleetShipper.Configuration.yieldingReaderNiceness))
        await Self.stop([node])
    }

    @Test("three nodes under load: kill -9 of a serve mid-batch, PostgreSQL down and back: every node's rows equal its journal replay, verify exits 0")
    func threeNodesCrashAndOutage() async throws {
        let server = try PostgresTestServer()
        defer { server.stop() }
        let url = try server.makeDatabase()
        // node-1 kills itself (SIGKILL) inside the ship transaction that reaches seq 120.
        var nodes = [
            try await Node.start("node-1", url: url, extra: ["TANDEM_FLEET_TEST_KILL_BEFORE_COMMIT_SEQ": "120"], faults: true),
            try await Node.start("node-2", url: url),
            try await Node.start("node-3", url: url),
        ]
        var loaders = nodes.map { node in Task { await QueryLoad.run(port: node.port, clients: 1) } }

        // Until node-1 dies by its own fault point (the suite's time limit ends a wait for a node
        // that never reaches it).
        #expect(await nodes[0].child.exited().status == .killed(by: SIGKILL))
        loaders[0].cancel()
        _ = await loaders[0].value
        nodes[0] = try await Node.start("node-1", url: url, directory: nodes[0].directory)
        loaders[0] = Task { [port = nodes[0].port] in await QueryLoad.run(port: port, clients: 1) }
        let restartedAt = Self.headSeq(try await nodes[0].health())

        // PostgreSQL crashes and stays down while the nodes keep serving.
        server.stop(immediate: true)
        let before = Self.headSeq(try await nodes[1].health())
        var down: [String: Any] = [:]
        // Polling /health is the only way to watch another process; bounded.
        for _ in 0..<400 {
            down = try await nodes[1].health()
            if (down["fleet"] as? [String: Any])?["last_error"] is String, Self.headSeq(down) > before { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(down["status"] as? String == "ok", "serving must not depend on PostgreSQL")
        #expect((down["fleet"] as? [String: Any])?["last_error"] is String)
        #expect(Self.headSeq(down) > before, "runs went on while PostgreSQL was down")
        try server.start()

        // The restarted node has finished runs of its own (a run is about eight entries) before
        // the load stops. Polling /health is the only way to watch another process; bounded.
        for _ in 0..<400 where Self.headSeq(try await nodes[0].health()) <= restartedAt + 20 {
            try await Task.sleep(for: .milliseconds(50))
        }
        for loader in loaders { loader.cancel() }
        for loader in loaders { #expect(await loader.value > 0) }
        for node in nodes { try await Self.waitCaughtUp(node) }
        await Self.stop(nodes)

        for node in nodes {
            let replay = try await TandemExecutable.run(["journal", "replay", "--data-dir", node.directory.path])
            #expect(replay.status == 0)
            let stored = try storedLines(server, url: url, node: node.name)
            #expect(stored.gapless, "\(node.name) has gaps")
            #expect(stored.lines == replay.stdout.split(separator: "\n").map(String.init), "\(node.name) differs from its journal")
            let verify = try await TandemExecutable.run(["fleet", "verify", "--data-dir", node.directory.path, "--url", url])
            #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
            #expect(verify.stdout.contains("compared with the local journal"))
        }
    }

    @Test("another node's run is read from any node: record, events and a replayed stream name the node that ran it; an unknown run is 404")
    func fleetWideReadsOverHTTP() async throws {
        let server = try PostgresTestServer()
        defer { server.stop() }
        let (nodes, runID) = try await Self.twoShippedNodes(try server.makeDatabase())
        let (owner, other) = (nodes[0].port, nodes[1].port)
        let record = try await Self.get("http://127.0.0.1:\(other)/api/runs/\(runID)")
        #expect(record.status == 200)
        #expect(record.headers["x-tandem-node"] == "node-1")
        let local = try await Self.get("http://127.0.0.1:\(owner)/api/runs/\(runID)")
        #expect(local.body == record.body, "the fleet's record equals the node's own")
        let events = try await Self.get("http://127.0.0.1:\(other)/api/runs/\(runID)/events")
        #expect(events.headers["x-tandem-node"] == "node-1")
        let localEvents = try await Self.get("http://127.0.0.1:\(owner)/api/runs/\(runID)/events")
        #expect(events.body == localEvents.body, "the fleet's events equal the node's own")
        let stream = try await Self.get("http://127.0.0.1:\(other)/api/runs/\(runID)/stream")
        #expect(stream.headers["x-tandem-node"] == "node-1")
        #expect(stream.body.contains("event: done"))
        #expect(try await Self.get("http://127.0.0.1:\(other)/api/runs/unknown-run").status == 404)
        await Self.stop(nodes)
    }

    @Test("/metrics carries the node's fleet families: lag 0 once caught up, ship errors counted")
    func fleetMetrics() async throws {
        let server = try PostgresTestServer()
        defer { server.stop() }
        let (nodes, _) = try await Self.twoShippedNodes(try server.makeDatabase())
        let metrics = try await Self.get("http://127.0.0.1:\(nodes[1].port)/metrics")
        #expect(metrics.body.contains("tandem_fleet_lag_entries{node_id=\"node-2\"} 0"))
        #expect(metrics.body.contains("tandem_fleet_ship_errors_total{node_id=\"node-2\"}"))
        await Self.stop(nodes)
    }

    @Test("fleet status, runs list --fleet and runs show --fleet read what the nodes shipped")
    func fleetCommandsRead() async throws {
        let server = try PostgresTestServer()
        defer { server.stop() }
        let url = try server.makeDatabase()
        let (nodes, runID) = try await Self.twoShippedNodes(url)
        await Self.stop(nodes)
        let status = try await TandemExecutable.run(["fleet", "status", "--json", "--url", url])
        #expect(status.status == 0)
        #expect(status.stdout.contains("\"node_id\":\"node-2\""))
        let list = try await TandemExecutable.run(["runs", "list", "--fleet", "--url", url, "--limit", "2"])
        #expect(list.status == 0)
        #expect(list.stdout.split(separator: "\n").count == 3, "a header and two runs: \(list.stdout)")
        let show = try await TandemExecutable.run(["runs", "show", runID, "--fleet", "--json", "--url", url])
        #expect(show.status == 0)
        #expect(show.stdout.contains("\"node_id\":\"node-1\""))
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
        // SPEC §11: while sync shipping fails, the node says it cannot serve runs.
        let health = try await Self.get("http://127.0.0.1:\(node.port)/health")
        #expect(health.status == 503)
        #expect(health.body.contains(#""code":"fleet_unavailable""#) && health.body.contains(#""status":"unavailable""#), "\(health.body)")
        // A run of a few milliseconds, seconds later: its frames are held until its entries ship.
        #expect(!finished.isSet)
        #expect(try await Self.get("http://127.0.0.1:\(node.port)/api/runs/sync-held/events").status == 200)
        try server.start()
        let body = try await client.value
        #expect(body.contains("event: done"))

        node.child.send(SIGKILL)
        _ = await node.child.exited()
        try FileManager.default.removeItem(atPath: node.directory.path)
        let rows = try server.psql("SELECT type FROM tandem.journal WHERE node_id = 'node-sync' AND run_id = 'sync-held' ORDER BY seq", url: url)
        #expect(rows.split(separator: "\n").last == "done")
    }


    /// Posts a query with `runID` and returns the whole stream.
    static func query(port: Int, runID: String) async throws -> String {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/api/reasoning/query")
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: #"{"query":"keep it","run_id":"\#(runID)"}"#))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        return String(buffer: try await response.body.collect(upTo: 1 << 20))
    }

    @Test("a TANDEM_NODE_ID that differs from the data dir's stops serve with a sentence")
    func nodeIDMismatchStopsServe() async throws {
        let directory = try TemporaryDirectory()
        try Data("node-a\n".utf8).write(to: URL(fileURLWithPath: directory.path + "/node_id"))
        let result = try await TandemExecutable.run(
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
        let migrate = try await TandemExecutable.run(["fleet", "migrate", "--url", url])
        #expect(migrate.status == 0 && migrate.stdout.contains("migrated to version 2 (applied 1, 2)"), "\(migrate.stderr)")
        let ship = try await TandemExecutable.run(["fleet", "ship", "--once", "--data-dir", node.directory.path, "--url", url])
        #expect(ship.status == 0, "\(ship.stderr)")
        #expect(ship.stdout.contains("node copied-node: shipped through seq"))
        #expect(try await TandemExecutable.run(["fleet", "verify", "--data-dir", node.directory.path, "--url", url]).status == 0)
        try server.psql("UPDATE tandem.journal SET line = replace(line, 'question', 'Question') WHERE seq = 5", url: url)
        let verify = try await TandemExecutable.run(["fleet", "verify", "--node", "copied-node", "--url", url])
        #expect(verify.status == 1)
        #expect(verify.stdout.contains("node copied-node seq 5"))
    }
}

/// Fleet settings and node identity as `serve` and the CLI meet them (SPEC §11).
@Suite("fleet identity and credentials, as processes", .enabled(if: postgresAvailable, postgresSkipReason), .serialized, .timeLimit(.minutes(2)))
struct FleetProcessIdentityTests {
    @Test("a second serve under a node id another node holds exits non-zero with node_id_in_use; the real node's row is unchanged")
    func impostorServeRefused() async throws {
        let server = try PostgresTestServer()
        defer { server.stop() }
        let url = try server.makeDatabase()
        let real = try await FleetServeTests.Node.start("node-1", url: url)
        _ = try await FleetServeTests.query(port: real.port, runID: "real-run")
        try await FleetServeTests.waitCaughtUp(real)
        let row = try server.psql("SELECT shipped_seq, shipped_hash, head_seq, divergence, updated_at FROM tandem.nodes", url: url)
        let impostor = try TemporaryDirectory()
        let result = try await TandemExecutable.run(
            ["serve", "--port", "0", "--data-dir", impostor.path],
            environment: ["TANDEM_FLEET_URL": url, "TANDEM_NODE_ID": "node-1", "GEMINI_API_KEY": "", "LOG_LEVEL": "info"]
        )
        #expect(result.status != 0)
        #expect(result.stderr.contains("node_id_in_use"), "\(result.stderr)")
        #expect(try server.psql("SELECT shipped_seq, shipped_hash, head_seq, divergence, updated_at FROM tandem.nodes", url: url) == row)
        real.child.send(SIGTERM)
        _ = await real.child.exited()
    }

    @Test("the password is printed nowhere, given as ?password= or in the URL: serve's log, fleet status, errors")
    func passwordNeverPrinted() async throws {
        let server = try PostgresTestServer()
        defer { server.stop() }
        let url = try server.makeDatabase()
        let secret = "Hunter2Sekrit"
        // Trust authentication: any password logs in, so the node works and prints its settings.
        let withQuery = url + "&password=\(secret)"
        let node = try await FleetServeTests.Node.start("node-pw", url: withQuery)
        _ = try await FleetServeTests.query(port: node.port, runID: "pw-run")
        try await FleetServeTests.waitCaughtUp(node)
        let health = try await FleetServeTests.get("http://127.0.0.1:\(node.port)/health")
        node.child.send(SIGTERM)
        let log = await node.child.exited().stderr
        #expect(!log.contains(secret) && !health.body.contains(secret))
        #expect(log.contains("fleet=postgres://tandem@127.0.0.1"), "the settings line names the store")
        let inUserInfo = url.replacingOccurrences(of: "postgres://tandem@", with: "postgres://tandem:\(secret)@")
        let status = try await TandemExecutable.run(["fleet", "status", "--url", inUserInfo])
        #expect(status.status == 0 && !(status.stdout + status.stderr).contains(secret))
        // A refused connection's error does not print it either.
        let refused = try await TandemExecutable.run(["fleet", "status"], environment: ["TANDEM_FLEET_URL": "postgres://tandem:\(secret)@127.0.0.1:1/x?sslmode=disable"])
        #expect(refused.status != 0 && !(refused.stdout + refused.stderr).contains(secret))
    }

    @Test("fleet status answers within seconds when PostgreSQL is down, and names a refused login as an authentication failure")
    func statusHasADeadline() async throws {
        let server = try PostgresTestServer()
        defer { server.stop() }
        let url = try server.makeDatabase()
        // A login PostgreSQL refuses (SQLSTATE 28000: no such role).
        let unknownUser = url.replacingOccurrences(of: "postgres://tandem@", with: "postgres://nobody_here@")
        let refused = try await TandemExecutable.run(["fleet", "status", "--url", unknownUser])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("fleet_authentication_failed"), "\(refused.stderr)")
        #expect(!refused.stderr.contains("did not answer"))
        server.stop(immediate: true)
        // Old code: no deadline, and this never returned.
        let started = ContinuousClock.now
        let down = try await TandemExecutable.run(["fleet", "status", "--url", url])
        #expect(down.status != 0 && down.stderr.contains("fleet_unavailable"), "\(down.stderr)")
        #expect(ContinuousClock.now - started < .seconds(20))
    }
}

/// A flag one task sets and another reads.
final class Flag: Sendable {
    private let value = Mutex(false)

    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}
