import Foundation
import Logging
import PostgresNIO
import Synchronization
@testable import TandemFleet
import TandemTestSupport
import Testing

/// Fleet calls have limits, and a call that passed its limit has really stopped (issue 20, defects 2 and 3).
@Suite("fleet deadlines", .timeLimit(.minutes(1)))
struct FleetDeadlineTests {
    @Test("a body past its limit is cancelled and joined: when the timeout is reported, the body has ended")
    func timedOutBodyIsJoined() async throws {
        let clock = ManualClock()
        let ended = Mutex(false)
        let call = Task {
            try await withFleetDeadline(.seconds(5), clock: clock) { () async throws(FleetError) -> Int in
                // Like a query that ends only once cancelled, and reports as it ends.
                // A real-clock sleep that never runs out: it ends when cancelled.
                try? await Task.sleep(for: .seconds(3_600))
                ended.withLock { $0 = true }
                throw .database("cancelled")
            }
        }
        await clock.waitForSleepers(1)
        clock.advance(by: .seconds(5))
        await #expect(throws: FleetError.timedOut(.seconds(5))) { try await call.value }
        // Old code: the body was cancelled but not awaited, and could still be running here.
        #expect(ended.withLock { $0 })
    }

    @Test("a body that does not stop when cancelled is left behind after the grace: the caller gets the timeout, and is told")
    func stuckBodyIsLeftBehind() async throws {
        let clock = ManualClock()
        let abandoned = Mutex(0)
        let release = Mutex<CheckedContinuation<Void, Never>?>(nil)
        let call = Task {
            try await withFleetDeadline(
                .seconds(5), clock: clock, abandonAfter: .milliseconds(200), onAbandon: { abandoned.withLock { $0 += 1 } }
            ) { () async throws(FleetError) -> Int in
                // Like a postgres-nio write whose continuation is never resumed: no cancellation reaches it.
                await withCheckedContinuation { continuation in release.withLock { $0 = continuation } }
                return 1
            }
        }
        await clock.waitForSleepers(1)
        while release.withLock({ $0 == nil }) { await Task.yield() }
        clock.advance(by: .seconds(5))
        // Old code: the timeout waited for the body, which never ended.
        await #expect(throws: FleetError.timedOut(.seconds(5))) { try await call.value }
        #expect(abandoned.withLock { $0 } == 1)
        release.withLock { $0 }?.resume()
    }

    @Test("a body that answers in time wins, and its timer is gone")
    func answerInTime() async throws {
        let clock = ManualClock()
        let value = try await withFleetDeadline(.seconds(5), clock: clock) { () async throws(FleetError) in 42 }
        #expect(value == 42)
        #expect(clock.sleeperCount == 0)
    }

    @Test("fallback reads of a store that does not answer are bounded: a few at once, the rest refused at once; the failure is reused for a while")
    func fallbackReadsBounded() async throws {
        let blackHole = try LoopbackSocket(.blackHole)
        let clock = ManualClock()
        try await withStore("postgres://tandem@127.0.0.1:\(blackHole.port)/fleet?sslmode=disable") { store in
            let lookup = FleetRunLookup(store: store, clock: clock, maxConcurrent: 2, negativeLifetime: .seconds(2), readLimit: .milliseconds(300))
            let first = Task { try await lookup.run("a") }
            let second = Task { try await lookup.run("b") }
            while lookup.readsInFlight < 2 { await Task.yield() }
            // A third while two wait: refused at once, no new read (old code: one more orphan per request).
            await #expect { try await lookup.run("c") } throws: { error in
                (error as? FleetError)?.description.contains("busy") == true
            }
            for read in [first, second] {
                await #expect(throws: FleetError.self) { try await read.value }
            }
            #expect(lookup.readsInFlight == 0)
            // Within the negative lifetime the failure is the answer, without a read.
            await #expect(throws: FleetError.self) { try await lookup.run("d") }
            #expect(lookup.readsStarted == 2)
            #expect(lookup.readsInFlight == 0)
        }
    }
}

/// A fleet operation left behind by its deadline gives up its connections (docs/DESIGN.md,
/// "Known open defects": a left-behind ship attempt kept its pooled connection and its row lock).
@Suite("fleet operations left behind", .enabled(if: postgresAvailable, postgresSkipReason), .timeLimit(.minutes(1)))
struct LeftBehindOperationTests {
    @Test("operations left behind have their connections closed: the pool has its leases back, an open transaction is rolled back and its row lock released")
    func leftBehindOperationsGiveUpTheirConnections() async throws {
        let server = try PostgresTestServer()
        defer { server.stop() }
        let url = try server.makeDatabase()
        try await withStore(url) { store in
            try await store.migrate()
            _ = try await store.mark(of: "node-a")
            // The server's own backstop for a session whose client stopped mid-transaction.
            let idleLimit = try await store.client.checkedQuery("SHOW idle_in_transaction_session_timeout", logger: store.logger) { rows in
                var values: [String] = []
                for try await value in rows.decode(String.self) { values.append(value) }
                return values
            }
            #expect(idleLimit == ["2min"])
            let clock = ManualClock()
            let parking = Parking()
            // Also when an expectation throws, so that the parked bodies end.
            defer { parking.releaseAll() }
            // One holds the node's row lock in an open transaction with a change of it, inside a
            // deadline of its own that is longer than the one around it (as a ship transaction's
            // inside a shipping attempt's): the outer one leaving it behind must close it. Three
            // more hold the rest of the pool's four connections.
            var calls = [parking.leftBehind(clock: clock) {
                try await withFleetDeadline(.seconds(600), clock: ContinuousClock(), abandonAfter: .seconds(600)) { () async throws(FleetError) in
                    do {
                        try await store.client.checkedTransaction(logger: store.logger) { connection in
                            try await connection.checkedQuery("UPDATE tandem.nodes SET divergence = 'uncommitted' WHERE node_id = 'node-a'", logger: store.logger)
                            await parking.park()
                        }
                    } catch {
                        throw FleetError.from(error)
                    }
                }
            }]
            for _ in 1...3 {
                calls.append(parking.leftBehind(clock: clock) {
                    try await store.client.checkedQuery("SELECT 1", logger: store.logger) { _ in await parking.park() }
                    // Should it ever resume, a left-behind body gets no connection any more.
                    do {
                        try await store.client.checkedQuery("SELECT 1", logger: store.logger) { _ in }
                        parking.note("leased")
                    } catch {
                        parking.note("\(FleetError.from(error))")
                    }
                })
            }
            while parking.parkedCount < 4 { await Task.yield() }
            await clock.waitForSleepers(4)
            clock.advance(by: .seconds(5))
            for call in calls {
                await #expect(throws: FleetError.timedOut(.seconds(5))) { try await call.value }
            }
            #expect(parking.abandonedCount == 4)
            // Old code: all four connections stayed leased and the row locked, so this waited out
            // its limit ("PostgreSQL did not answer").
            try await store.recordDivergence(node: "node-a", reason: "after")
            #expect(try server.psql("SELECT divergence FROM tandem.nodes WHERE node_id = 'node-a'", url: url) == "after\n")
            parking.releaseAll()
            while parking.notes.count < 3 { try await Task.sleep(for: .milliseconds(5)) }
            // Cancelled by its deadline, it waits for no new connection (or, given one, does not use it).
            #expect(!parking.notes.contains("leased"))
        }
    }

    @Test("a connection leased for an operation already left behind (or inside one) goes unused and stays open for the pool")
    func leaseAfterAbandonment() async throws {
        let server = try PostgresTestServer()
        defer { server.stop() }
        let endpoint = try FleetEndpoint(try server.makeDatabase())
        let connection = try await PostgresConnection.connect(
            configuration: try endpoint.connectionConfiguration(), id: 1, logger: Logger(label: "tandem.fleet.test")
        )
        let outer = FleetOperation(enclosing: nil)
        let inner = FleetOperation(enclosing: outer)
        await outer.abandon()
        let ran = Mutex(false)
        await #expect(throws: FleetError.database("the fleet operation was left behind by its deadline")) {
            try await inner.holding(connection) { ran.withLock { $0 = true } }
        }
        #expect(!ran.withLock { $0 })
        #expect(!connection.isClosed)
        // Nor does the inner operation keep it: leaving that behind too closes nothing.
        await inner.abandon()
        #expect(!connection.isClosed)
        try await connection.close()
    }

    /// Bodies that wait where no cancellation reaches them, like postgres-nio's waits that never end
    /// (a query written to a connection that has just closed), and how many were left behind.
    final class Parking: Sendable {
        private let parked = Mutex<[CheckedContinuation<Void, Never>]>([])
        private let abandoned = Mutex(0)

        var parkedCount: Int { parked.withLock { $0.count } }
        var abandonedCount: Int { abandoned.withLock { $0 } }

        func park() async {
            await withCheckedContinuation { continuation in parked.withLock { $0.append(continuation) } }
        }

        private let late = Mutex<[String]>([])

        /// What left-behind bodies reported once resumed.
        var notes: [String] { late.withLock { $0 } }

        func note(_ text: String) {
            late.withLock { $0.append(text) }
        }

        /// Resumes every parked body, once.
        func releaseAll() {
            for continuation in parked.withLock({ parked in defer { parked.removeAll() }; return parked }) { continuation.resume() }
        }

        /// `body` under a 5 s fleet deadline on `clock`, left behind 100 ms after its cancellation.
        func leftBehind(clock: ManualClock, _ body: @escaping @Sendable () async throws -> Void) -> Task<Void, any Error> {
            Task {
                try await withFleetDeadline(
                    .seconds(5), clock: clock, abandonAfter: .milliseconds(100), onAbandon: { self.abandoned.withLock { $0 += 1 } }
                ) { () async throws(FleetError) in
                    do { try await body() } catch { throw FleetError.from(error) }
                }
            }
        }
    }
}
