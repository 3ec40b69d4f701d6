import Foundation
import Synchronization
import PostgresNIO
@testable import TandemFleet
import TandemJournal
import TandemTestSupport
import Testing

/// The shipper against a real PostgreSQL server (a private one per test).
@Suite("shipping to PostgreSQL", .enabled(if: postgresAvailable, postgresSkipReason), .timeLimit(.minutes(2)))
struct ShippingTests {
    @Test("migrate creates the schema once: a second run applies nothing; the version table says 2")
    func migrateIsIdempotent() async throws {
        let server = try PostgresTestServer()
        defer { server.stop() }
        let url = try server.makeDatabase()
        try await withStore(url) { store in
            let first = try await FleetSchema.migrate(store.client, logger: store.logger)
            let second = try await FleetSchema.migrate(store.client, logger: store.logger)
            #expect(first == [1, 2])
            #expect(second == [])
        }
        #expect(try server.psql("SELECT max(version) FROM tandem.schema_version", url: url) == "2\n")
        // No per-row foreign keys (a ship transaction registers its node first).
        #expect(try server.psql("SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND connamespace = 'tandem'::regnamespace", url: url) == "0\n")
        for relation in ["tandem.nodes", "tandem.journal", "tandem.runs", "tandem.experiment_runs", "public.experiment_runs"] {
            #expect(try server.psql("SELECT to_regclass('\(relation)') IS NOT NULL", url: url) == "t\n", "\(relation) missing")
        }
    }

    @Test("a journal ships in batches: rows equal the journal's lines byte for byte, mark at the head, records and old-style rows queryable")
    func shipsEverything() async throws {
        let server = try PostgresTestServer()
        defer { server.stop() }
        let url = try server.makeDatabase()
        let node = try await TestNode("node-a", runs: 40)
        let head = try node.journal.head()
        try await withStore(url) { store in
            try await FleetSchema.migrate(store.client, logger: store.logger)
            let shipper = node.shipper(store, batchSize: 37)
            let mark = try await shipper.shipToHead()
            #expect(mark.seq == head.seq)
            #expect(mark.hash == head.hashHex)
            #expect(shipper.status.snapshot.shippedEntries == head.seq)
            // Shipping again finds nothing to do.
            let again = try await shipper.shipToHead()
            #expect(again == mark)
            let reports = try await FleetVerifier(store: store, pageSize: 50).verify(local: (node.nodeID, node.journal))
            #expect(reports.map(\.problems) == [[]])
            #expect(reports.first?.comparedLocally == head.seq)
        }
        let stored = try storedLines(server, url: url, node: "node-a")
        #expect(stored.gapless)
        #expect(stored.lines == (try node.lines()))
        #expect(try server.psql("SELECT count(*) FROM tandem.runs WHERE node_id = 'node-a'", url: url) == "40\n")
        #expect(try server.psql("SELECT status FROM tandem.runs WHERE run_id = 'run-3'", url: url) == "partial\n")
        // The old service's table shape, answers included, from the view.
        let row = try server.psql(
            "SELECT id, query, user_id, flash_latency_ms, length(pro_response) > 0, status FROM experiment_runs WHERE id = 'run-0'", url: url
        )
        #expect(row == "run-0|question 0|u0|100|t|ok\n")
    }

    @Test("a payload with an escaped NUL (valid JSON, refused by jsonb) ships: line exact, derived data cleaned, verify clean")
    func escapedNULShips() async throws {
        let server = try PostgresTestServer()
        defer { server.stop() }
        let url = try server.makeDatabase()
        let node = try await TestNode("node-a", runs: 2)
        let run = try #require(RunID("nul-run"))
        _ = try await node.journal.append([
            try PendingEntry(runID: run, type: "client_disconnected", data: Array(#"{"elapsed_ms":1,"note":"a\u0000b"}"#.utf8)),
            // An escaped backslash before "u0000" is text, kept; after it, an escaped NUL. The
            // shipper's replacement must match the SQL one verify applies to the line.
            try PendingEntry(runID: run, type: "client_disconnected", data: Array(#"{"elapsed_ms":2,"note":"c\\u0000d\\\u0000"}"#.utf8)),
        ])
        try await Workload.append(runs: 1, to: node.journal, firstRun: 5)
        try await withStore(url) { store in
            try await FleetSchema.migrate(store.client, logger: store.logger)
            _ = try await node.shipper(store, batchSize: 7).shipToHead()
            let reports = try await FleetVerifier(store: store).verify(local: (node.nodeID, node.journal))
            #expect(reports.flatMap(\.problems).isEmpty)
        }
        #expect(try storedLines(server, url: url, node: "node-a").lines == (try node.lines()))
        #expect(try server.psql("SELECT data ->> 'note' FROM tandem.journal WHERE run_id = 'nul-run' ORDER BY seq", url: url) == "a\u{FFFD}b\nc\\u0000d\\\u{FFFD}\n")
    }

    @Test("a ship transaction that fails before commit stores nothing; the next attempt ships each entry exactly once")
    func failedBatchLeavesNothing() async throws {
        let server = try PostgresTestServer()
        defer { server.stop() }
        let url = try server.makeDatabase()
        let node = try await TestNode("node-a", runs: 20)
        try await withStore(url) { store in
            try await FleetSchema.migrate(store.client, logger: store.logger)
            let failing = node.shipper(store, batchSize: 50) { last in
                if last > 100 { throw InjectedFault() }
            }
            await #expect(throws: FleetError.self) { _ = try await failing.shipToHead() }
            let mark = try await store.mark(of: node.nodeID)
            #expect(mark.seq == 100)
            _ = try await node.shipper(store, batchSize: 50).shipToHead()
        }
        let stored = try storedLines(server, url: url, node: "node-a")
        #expect(stored.gapless)
        #expect(stored.lines == (try node.lines()))
    }

    @Test("PostgreSQL crashes mid-transaction (immediate stop inside the batch), restarts: shipping resumes from the mark, nothing lost or doubled")
    func postgresCrashMidTransaction() async throws {
        let server = try PostgresTestServer()
        defer { server.stop() }
        let url = try server.makeDatabase()
        let node = try await TestNode("node-a", runs: 30)
        let crashes = Crashes(server: server, atSeqs: [60, 150])
        try await withStore(url) { store in
            try await FleetSchema.migrate(store.client, logger: store.logger)
            let shipper = node.shipper(store, batchSize: 40) { last in try crashes.maybeCrash(at: last) }
            // Each crash fails one attempt; the service loop retries from the stored mark.
            let service = Task { try await shipper.run() }
            defer { service.cancel() }
            let head = try node.journal.head().seq
            await shipper.waitUntilShipped(head)
            #expect(shipper.status.snapshot.shippedSeq == head)
            #expect(shipper.status.snapshot.shipErrors >= 2)
        }
        #expect(crashes.count == 2)
        let stored = try storedLines(server, url: url, node: "node-a")
        #expect(stored.gapless)
        #expect(stored.lines == (try node.lines()))
    }

    @Test("on the shipper's clock: an attempt past its limit is cancelled and joined before the back-off, and the retry ships from the stored mark")
    func attemptLimitOnInjectedClock() async throws {
        let server = try PostgresTestServer()
        defer { server.stop() }
        let url = try server.makeDatabase()
        let node = try await TestNode("node-a", runs: 10)
        let clock = ManualClock()
        let stall = SlowFirstCall(.untilCancelled)
        try await withStore(url) { store in
            let shipper = FleetShipper(
                journal: node.journal, store: store, nodeID: node.nodeID, secretHash: node.secretHash,
                configuration: .init(
                    batchSize: 50, retryDelay: .seconds(1), maxRetryDelay: .seconds(1), attemptTimeout: .seconds(5),
                    beforeCommit: { _ in try await stall.pass() }
                ),
                clock: clock, logger: store.logger
            )
            let service = Task { try await shipper.run() }
            defer { service.cancel() }
            // The first batch's transaction stalls before its commit (a PostgreSQL that stopped answering).
            // On a loaded machine an earlier attempt can fail by itself (a connection that took
            // longer than its real-time limit) and back off on this clock: step through such
            // back-offs until the stalled attempt is reached.
            while !stall.isSlow {
                if clock.sleeperCount > 0 { clock.advance(by: .seconds(1)) }
                try await Task.sleep(for: .milliseconds(10))
            }
            await clock.waitForSleepers(1)
            clock.advance(by: .seconds(6))
            // The shipper backs off only once the stalled attempt has ended (old code: it was left running).
            await clock.waitForSleepers(1)
            #expect(stall.ended)
            #expect(shipper.status.snapshot.isFailing)
            clock.advance(by: .seconds(1))
            let head = try node.journal.head().seq
            #expect(await shipper.waitUntilShipped(head))
        }
        let stored = try storedLines(server, url: url, node: "node-a")
        #expect(stored.gapless)
        #expect(stored.lines == (try node.lines()))
    }

    @Test("an attempt's limit grows with its batch: a full batch of 2,000 that PostgreSQL takes 6 s to commit ships at once (5 s + 1 ms per entry), where a fixed 5 s limit rolled it back every time")
    func attemptLimitGrowsWithTheBatch() async throws {
        let server = try PostgresTestServer()
        defer { server.stop() }
        let url = try server.makeDatabase()
        let node = try await TestNode("node-a", runs: 300)
        let head = try node.journal.head().seq
        #expect(head > 2_000)
        let clock = ManualClock()
        let slowCommit = SlowFirstCall(.takes(.seconds(6), on: clock))
        try await withStore(url) { store in
            let configuration = FleetShipper.Configuration(
                batchSize: 2_000, retryDelay: .seconds(1), maxRetryDelay: .seconds(1), attemptTimeout: .seconds(5),
                beforeCommit: { _ in try await slowCommit.pass() }
            )
            #expect(configuration.attemptLimit == .seconds(7))
            #expect(FleetShipper.Configuration(batchSize: 100_000).attemptLimit == .seconds(105))
            let shipper = FleetShipper(
                journal: node.journal, store: store, nodeID: node.nodeID, secretHash: node.secretHash,
                configuration: configuration, clock: clock, logger: store.logger
            )
            let service = Task { try await shipper.run() }
            defer { service.cancel() }
            // The first (full) batch's commit is slow: 6 s on the shipper's clock, past attemptTimeout alone.
            await slowCommit.waitUntilSlow()
            await clock.waitForSleepers(2)  // the slow commit and the attempt's limit
            clock.advance(by: .seconds(6))
            #expect(await shipper.waitUntilShipped(head))
            #expect(slowCommit.finished)
            #expect(shipper.status.snapshot.shipErrors == 0)
        }
        let stored = try storedLines(server, url: url, node: "node-a")
        #expect(stored.gapless)
        #expect(stored.lines == (try node.lines()))
    }

    @Test("a re-sent entry that differs from the stored row is a divergence: nothing overwritten, node stopped and marked")
    func resentDifferentEntryDiverges() async throws {
        let server = try PostgresTestServer()
        defer { server.stop() }
        let url = try server.makeDatabase()
        let original = try await TestNode("node-a", runs: 10)
        let impostor = try await TestNode("node-a", runs: 10, contentBytes: 500)
        try await withStore(url) { store in
            try await FleetSchema.migrate(store.client, logger: store.logger)
            _ = try await original.shipper(store).shipToHead()
            let other = try impostor.journal.entries(from: 1, limit: 20)
            await #expect(throws: FleetError.self) {
                _ = try await store.ship(node: "node-a", entries: other, records: [], head: 20)
            }
            // The same bytes again are fine (a retry after a lost commit acknowledgement).
            let same = try original.journal.entries(from: 1, limit: 20)
            let result = try await store.ship(node: "node-a", entries: same, records: [], head: 20)
            #expect(result.alreadyStored == 20 && result.stored == 0)
        }
        #expect(try storedLines(server, url: url, node: "node-a").lines == (try original.lines()))
    }

    @Test("a local journal rewritten after shipping (chain recomputed) stops shipping with fleet_divergence, recorded in the store")
    func rewrittenJournalDiverges() async throws {
        let server = try PostgresTestServer()
        defer { server.stop() }
        let url = try server.makeDatabase()
        let original = try await TestNode("node-a", runs: 10)
        let rewritten = try await TestNode("node-a", runs: 12, contentBytes: 500)
        try await withStore(url) { store in
            try await FleetSchema.migrate(store.client, logger: store.logger)
            _ = try await original.shipper(store).shipToHead()
            // The same node (its secret) with its journal rewritten.
            let shipper = rewritten.shipper(store, secretHash: original.secretHash)
            do throws(FleetError) {
                _ = try await shipper.shipToHead()
                Issue.record("the rewritten journal was shipped")
            } catch {
                #expect(error.code == .divergence)
                #expect(error.description.contains("node-a"))
            }
            #expect(shipper.status.snapshot.diverged)
            let mark = try await store.mark(of: "node-a")
            #expect(mark.divergence != nil)
            // Verify on the rewritten node names the first rewritten seq.
            let reports = try await FleetVerifier(store: store).verify(only: "node-a", local: ("node-a", rewritten.journal))
            #expect(reports.first?.problems.contains { $0.reason.contains("local journal's line differs") } == true)
        }
        #expect(try storedLines(server, url: url, node: "node-a").lines == (try original.lines()))
    }

    @Test("verify names a row edited in PostgreSQL by node and seq")
    func verifyCatchesEditedRow() async throws {
        let server = try PostgresTestServer()
        defer { server.stop() }
        let url = try server.makeDatabase()
        let node = try await TestNode("node-a", runs: 10)
        try await withStore(url) { store in
            try await FleetSchema.migrate(store.client, logger: store.logger)
            _ = try await node.shipper(store).shipToHead()
        }
        try server.psql("UPDATE tandem.journal SET line = replace(line, 'question 2', 'question X') WHERE node_id = 'node-a' AND seq = 3", url: url)
        try server.psql("UPDATE tandem.journal SET data = '{}' WHERE node_id = 'node-a' AND seq = 7", url: url)
        try await withStore(url) { store in
            let withoutLocal = try await FleetVerifier(store: store, pageSize: 4).verify()
            let seqs = Set(withoutLocal.flatMap(\.problems).map(\.seq))
            #expect(seqs.contains(3) && seqs.contains(4) && seqs.contains(7))
            #expect(withoutLocal.flatMap(\.problems).allSatisfy { $0.nodeID == "node-a" })
            let withLocal = try await FleetVerifier(store: store).verify(local: ("node-a", node.journal))
            #expect(withLocal.flatMap(\.problems).contains { $0.seq == 3 && $0.reason.contains("local journal's line differs") })
        }
    }

    @Test("three nodes ship at once; a run id used on two nodes is counted and kept apart, never merged")
    func threeNodesAndCollision() async throws {
        let server = try PostgresTestServer()
        defer { server.stop() }
        let url = try server.makeDatabase()
        let nodes = [
            try await TestNode("node-a", runs: 30, firstRun: 0),
            try await TestNode("node-b", runs: 30, firstRun: 100),
            try await TestNode("node-c", runs: 30, firstRun: 129),
        ]
        let collisions = try await withStore(url) { store in
            try await FleetSchema.migrate(store.client, logger: store.logger)
            _ = try await nodes[1].shipper(store).shipToHead()
            return try await withThrowingTaskGroup(of: UInt64.self) { group in
                for node in [nodes[0], nodes[2]] {
                    group.addTask {
                        let shipper = node.shipper(store, batchSize: 33)
                        _ = try await shipper.shipToHead()
                        return shipper.status.snapshot.runIDCollisions
                    }
                }
                return try await group.reduce(0, +)
            }
        }
        // run-129 is on node-b (shipped first) and node-c.
        #expect(collisions == 1)
        #expect(try server.psql("SELECT node_id FROM tandem.runs WHERE run_id = 'run-129'", url: url) == "node-b\n")
        #expect(try server.psql("SELECT node_id, first_node_id FROM tandem.run_id_collisions", url: url) == "node-c|node-b\n")
        for node in nodes {
            let stored = try storedLines(server, url: url, node: node.nodeID)
            #expect(stored.gapless)
            #expect(stored.lines == (try node.lines()), "\(node.nodeID)")
        }
    }
}

/// Stops PostgreSQL abruptly from inside a ship transaction, once at each given seq, then
/// starts it again, so the transaction in flight dies with the server.
final class Crashes: Sendable {
    private let server: PostgresTestServer
    private let pending: Mutex<[UInt64]>
    private let done = Mutex(0)

    init(server: PostgresTestServer, atSeqs: [UInt64]) {
        self.server = server
        pending = Mutex(atSeqs)
    }

    var count: Int { done.withLock { $0 } }

    func maybeCrash(at last: UInt64) throws {
        let due = pending.withLock { seqs -> Bool in
            guard let first = seqs.first, last >= first else { return false }
            seqs.removeFirst()
            return true
        }
        guard due else { return }
        server.stop(immediate: true)
        try server.start()
        done.withLock { $0 += 1 }
    }
}

/// A fault point whose first call is slow and whose later calls pass at once: the first stalls
/// until it is cancelled (a PostgreSQL that stopped answering), or takes a while on the shipper's
/// clock and then lets the commit go on (one slow to commit a big batch).
final class SlowFirstCall: Sendable {
    enum Slowness: Sendable {
        case untilCancelled
        case takes(Duration, on: ManualClock)
    }

    private struct State {
        var calls = 0
        var ended = false
        var finished = false
    }

    private let state = Mutex(State())
    private let slow = StopSignal()
    private let slowness: Slowness

    init(_ slowness: Slowness) {
        self.slowness = slowness
    }

    /// Whether the slow call has returned (cancelled or done).
    var ended: Bool { state.withLock { $0.ended } }
    /// Whether the slow call ran to its end (the attempt's limit did not cancel it).
    var finished: Bool { state.withLock { $0.finished } }
    /// Whether the first call is under way.
    var isSlow: Bool { slow.isFired }

    func pass() async throws {
        let first = state.withLock { state -> Bool in
            state.calls += 1
            return state.calls == 1
        }
        guard first else { return }
        defer { state.withLock { $0.ended = true } }
        slow.fire()
        switch slowness {
        case .untilCancelled:
            // Ends only when cancelled (a real-clock sleep that never runs out).
            try await Task.sleep(for: .seconds(3_600))
        case .takes(let duration, let clock):
            try await clock.sleep(for: duration)
            state.withLock { $0.finished = true }
        }
    }

    /// Returns once the first call is under way.
    func waitUntilSlow() async {
        await slow.wait()
    }
}
