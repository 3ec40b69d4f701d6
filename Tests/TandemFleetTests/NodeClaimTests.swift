import Foundation
import PostgresNIO
@testable import TandemFleet
import TandemJournal
import TandemTestSupport
import Testing

/// A node proves its id with its data dir's secret (SPEC §11, "Node identity").
@Suite("node identity in the fleet store", .enabled(if: postgresAvailable, postgresSkipReason), .timeLimit(.minutes(2)))
struct NodeClaimTests {
    static let rowColumns = "shipped_seq, shipped_hash, head_seq, divergence, diverged_at, updated_at, secret_hash"

    @Test("a process with the node id and another secret is refused with node_id_in_use and changes nothing of the real node's row; the real node ships on")
    func impostorRefused() async throws {
        let server = try PostgresTestServer()
        defer { server.stop() }
        let url = try server.makeDatabase()
        let real = try await TestNode("node-a", runs: 10)
        // A cloned id with an empty journal: old code took it for a rewind and stopped the real node for good.
        let impostor = try await TestNode("node-a")
        try await withStore(url) { store in
            try await store.migrate()
            _ = try await real.shipper(store).shipToHead()
            let row = try server.psql("SELECT \(Self.rowColumns) FROM tandem.nodes", url: url)
            let refused = impostor.shipper(store)
            await #expect { _ = try await refused.shipToHead() } throws: { error in (error as? FleetError)?.code == .nodeIDInUse }
            #expect(refused.status.snapshot.nodeIDInUse && refused.status.snapshot.isFailing)
            #expect(try server.psql("SELECT \(Self.rowColumns) FROM tandem.nodes", url: url) == row)
            _ = try await Workload.append(runs: 3, to: real.journal, firstRun: 10)
            let mark = try await real.shipper(store).shipToHead()
            #expect(mark.seq == (try real.journal.head().seq))
        }
        #expect(try storedLines(server, url: url, node: "node-a").lines == (try real.lines()))
    }

    @Test("a row from before secrets is claimed by the node whose journal continues its chain; another journal is refused and claims nothing")
    func preSecretRowClaimedByChain() async throws {
        let server = try PostgresTestServer()
        defer { server.stop() }
        let url = try server.makeDatabase()
        let real = try await TestNode("node-a", runs: 10)
        let other = try await TestNode("node-a", runs: 10, contentBytes: 500)
        try await withStore(url) { store in
            try await store.migrate()
            _ = try await real.shipper(store).shipToHead()
            _ = try server.psql("UPDATE tandem.nodes SET secret_hash = NULL", url: url)
            await #expect { _ = try await other.shipper(store).shipToHead() } throws: { error in (error as? FleetError)?.code == .nodeIDInUse }
            #expect(try server.psql("SELECT secret_hash IS NULL, divergence IS NULL FROM tandem.nodes", url: url) == "t|t\n")
            _ = try await Workload.append(runs: 2, to: real.journal, firstRun: 10)
            _ = try await real.shipper(store).shipToHead()
        }
        #expect(try server.psql("SELECT secret_hash FROM tandem.nodes", url: url) == real.secretHash + "\n")
        #expect(try storedLines(server, url: url, node: "node-a").lines == (try real.lines()))
    }
}
