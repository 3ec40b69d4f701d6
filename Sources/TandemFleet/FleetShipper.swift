public import Logging
public import ServiceLifecycle
import Synchronization
public import TandemDomain
public import TandemJournal

/// Copies this node's journal into the fleet store, in seq order and in batches, as a `Service`
/// of `tandem serve` (and the loop of `tandem fleet ship`).
///
/// Never in the request path: it reads committed entries and follows the head. After any failure
/// it starts again from the mark stored in PostgreSQL, so a batch is stored exactly once. A
/// divergence stops shipping of this node for good (until an operator clears it), never
/// overwriting a stored row.
public final class FleetShipper: Service, Sendable {
    /// How the shipper batches and retries.
    public struct Configuration: Sendable {
        /// Entries per ship transaction (`TANDEM_FLEET_BATCH`).
        public var batchSize: Int
        /// The first retry delay after a failure; doubles up to ``maxRetryDelay``.
        public var retryDelay: Duration
        public var maxRetryDelay: Duration
        /// How long to wait for an append before looking at the head again (appends of other
        /// processes are only seen this way).
        public var pollInterval: Duration
        /// How long one attempt (mark read plus one batch) may take before it counts as failed,
        /// beside ``attemptTimeoutPerEntry`` for each entry of a full batch; while PostgreSQL is
        /// unreachable the pool would otherwise wait for a connection.
        public var attemptTimeout: Duration
        /// What each entry of a full batch adds to ``attemptTimeout``: 1 ms, 40 times the 25 µs an
        /// entry took in `make bench-fleet` (40,263 entries/s, docs/DESIGN.md), so a slow
        /// PostgreSQL still finishes a batch of 100,000 (105 s) instead of timing out forever.
        public var attemptTimeoutPerEntry: Duration = .milliseconds(1)
        /// The limit of one attempt: ``attemptTimeout`` plus ``attemptTimeoutPerEntry`` per entry of a full batch.
        public var attemptLimit: Duration { attemptTimeout + attemptTimeoutPerEntry * batchSize }
        /// Whether ``FleetShipper/run()`` returns after a divergence (`tandem fleet ship`, which then
        /// exits) instead of waiting for shutdown (`serve`, which goes on serving).
        public var returnsOnDivergence: Bool
        /// Whether the shipper trails a `serve` that does not wait for it
        /// (`TANDEM_FLEET_DURABILITY=async`; not `sync`, where each commit's frames wait for their
        /// entries, nor `tandem fleet ship`). Such a shipper, once caught up, lingers before its
        /// next batch (``linger``), commits without waiting for PostgreSQL's WAL flush
        /// (``durableCommits``) and reads on a thread niced below serving's (``readerNiceness``).
        public var trailsServer: Bool

        /// How long a shipper that has caught up (its last batch was not full) waits before the
        /// next batch, so that batches gather more entries: fewer transactions, and a run's record
        /// is mostly stored once instead of once per batch it spans. It adds this much to the lag.
        var linger: Duration { trailsServer ? .milliseconds(100) : .zero }
        /// Whether a ship transaction's commit waits for PostgreSQL to flush its WAL
        /// (`synchronous_commit`). Not for a trailing shipper: a PostgreSQL crash may then take back
        /// the last batches, rows and mark together, and the shipper sends them again from the
        /// stored mark; exactly once either way.
        var durableCommits: Bool { !trailsServer }
        /// How much nicer than the thread that starts it the shipper's reader thread runs, so that
        /// beside a server that does not wait for it, serving goes first on busy cores.
        var readerNiceness: Int32 { trailsServer ? Self.yieldingReaderNiceness : 0 }

        /// The trailing reader's niceness. Measured with `make bench-fleet`: at 10 the lag passed
        /// one second of traffic at 64 clients; at 5 it stays under half a second.
        public static let yieldingReaderNiceness: Int32 = 5
        /// The state machine's delays.
        var schedule: ShipperStateMachine.Schedule {
            ShipperStateMachine.Schedule(retryDelay: retryDelay, maxRetryDelay: maxRetryDelay, pollInterval: pollInterval, linger: linger)
        }

        /// A fault point for tests: see ``FleetStore/ship(node:entries:records:head:beforeCommit:)``.
        public var beforeCommit: (@Sendable (UInt64) async throws -> Void)?

        public init(
            batchSize: Int = 2_000,
            retryDelay: Duration = .milliseconds(100),
            maxRetryDelay: Duration = .seconds(5),
            pollInterval: Duration = .milliseconds(500),
            attemptTimeout: Duration = .seconds(5),
            returnsOnDivergence: Bool = false,
            trailsServer: Bool = false,
            beforeCommit: (@Sendable (UInt64) async throws -> Void)? = nil
        ) {
            self.batchSize = batchSize
            self.retryDelay = retryDelay
            self.maxRetryDelay = maxRetryDelay
            self.pollInterval = pollInterval
            self.attemptTimeout = attemptTimeout
            self.returnsOnDivergence = returnsOnDivergence
            self.trailsServer = trailsServer
            self.beforeCommit = beforeCommit
        }
    }

    public let nodeID: String
    /// Counters for `/health` and `/metrics`.
    public let status: FleetStatus
    /// The node's mark as this process last stored or read it, for ``waitUntilShipped(_:)``.
    private let shipped = HeadSignal(head: 0)
    /// The records of the runs still open, carried from batch to batch. Reads may overlap (an
    /// abandoned attempt's read, `shipToHead` beside `run`): each fold runs whole under the lock,
    /// and the records are reused only by a batch that starts right after the last one folded.
    private let runRecords = Mutex(RunRecords())
    private let journal: Journal
    private let store: FleetStore
    private let configuration: Configuration
    private let logger: Logger
    /// Times attempts, back-off and lingering (tests pass a manual clock).
    private let clock: any MonotonicClock

    /// The SHA-256 of this node's secret (``NodeIdentity/secretHash(in:)``): shipping starts by
    /// proving the node id with it; `nil` ships without (tests of the store's own checks).
    private let secretHash: String?

    public init(
        journal: Journal, store: FleetStore, nodeID: String, secretHash: String? = nil, configuration: Configuration = .init(),
        clock: any MonotonicClock = ContinuousClock(), logger: Logger
    ) {
        self.clock = clock
        self.journal = journal
        self.store = store
        self.nodeID = nodeID
        self.secretHash = secretHash
        self.configuration = configuration
        self.logger = logger
        status = FleetStatus(nodeID: nodeID)
    }

    /// Ships until graceful shutdown: catches up, then follows the journal's head. The loop's
    /// decisions are ``ShipperStateMachine``'s; this carries them out on the injected clock.
    public func run() async throws {
        // Graceful shutdown ends the loop between attempts, never inside one: a batch in flight is
        // stored (in sync durability its frames wait for it) before the pool closes.
        let stopping = StopSignal()
        await withGracefulShutdownHandler {
            await ReaderThread.run(niceness: self.configuration.readerNiceness, logger: self.logger) { reader in
                var machine = ShipperStateMachine(schedule: self.configuration.schedule)
                var mark: ShippedMark?
                // The batch after the mark, read while the previous one was being stored.
                var prepared: ShipBatch?
                var decision = machine.handle(.ready)
                while true {
                    if let note = decision.note { self.log(note) }
                    if stopping.isFired || Task.isCancelled { decision = machine.handle(.stopRequested) }
                    switch decision.step {
                    case .stop(let error):
                        if let error { await self.stop(on: error) }
                        return
                    case .attempt(let migrate, let readMark):
                        if readMark { (mark, prepared) = (nil, nil) }
                        var migrated = false
                        do throws(FleetError) {
                            if migrate {
                                try await self.store.migrate(limit: self.configuration.attemptLimit)
                                migrated = true
                            }
                            let (known, ready) = (mark, prepared)
                            let (current, next) = try await self.within { () async throws(FleetError) -> (ShippedMark, Shipped?) in
                                let current: ShippedMark
                                if let known {
                                    current = known
                                } else {
                                    current = try await self.storedMark()
                                    self.status.markSeen(current.seq)
                                    self.shipped.publish(current.seq)
                                }
                                return (current, try await self.shipBatch(after: current, prepared: ready, reader: reader))
                            }
                            (mark, prepared) = (next?.mark ?? current, next?.prepared)
                            self.status.attemptSucceeded()
                            decision = machine.handle(next.map { ShipperStateMachine.Input.shipped(wasFull: $0.wasFull) } ?? .caughtUp)
                        } catch {
                            decision = machine.handle(.failed(error, migrated: migrated))
                            if case .backOff = decision.step { self.status.failed(error) }
                        }
                    case .waitForAppend(let timeout):
                        let (journal, seen) = (self.journal, mark?.seq ?? 0)
                        await stopping.unlessFired(()) { await journal.waitForAppend(beyond: seen, timeout: timeout) }
                        decision = machine.handle(.ready)
                    case .linger(let pause), .backOff(let pause):
                        let clock = self.clock
                        await stopping.unlessFired(()) { try? await clock.sleep(for: pause) }
                        decision = machine.handle(.ready)
                    }
                }
            }
        } onGracefulShutdown: {
            stopping.fire()
        }
        // A stopped shipper must not end serve's service group: wait for its shutdown.
        if !configuration.returnsOnDivergence { try? await gracefulShutdown() }
    }

    /// Logs what the state machine noted: each distinct failure once, and the recovery.
    private func log(_ note: ShipperStateMachine.Note) {
        switch note {
        case .failure(let error, let isNew):
            // A stop for good is logged where it is carried out.
            guard isNew, error.code != .divergence, error.code != .nodeIDInUse else { return }
            logger.error("fleet shipping failed; retrying from the stored mark", metadata: [
                "node_id": "\(nodeID)", "code": "\(error.code)", "error": "\(error.description)",
            ])
        case .resumed:
            logger.notice("fleet shipping resumed", metadata: ["node_id": "\(nodeID)", "shipped_seq": "\(status.snapshot.shippedSeq)"])
        }
    }

    /// Waits until every entry up to `seq` is in the fleet store (as this shipper knows), or the
    /// calling task is cancelled. `TANDEM_FLEET_DURABILITY=sync` holds a commit's frames here.
    /// - Returns: whether the entries are in the store (`false` only when cancelled first).
    @discardableResult
    public func waitUntilShipped(_ seq: UInt64) async -> Bool {
        guard seq > 0 else { return true }
        await shipped.wait(beyond: seq - 1)
        return shipped.head >= seq
    }

    /// Ships every entry up to the journal's head as of the call, in batches.
    /// - Returns: the node's mark at the end.
    /// - Throws: ``FleetError``; a divergence is also recorded in the store.
    public func shipToHead() async throws(FleetError) -> ShippedMark {
        var mark: ShippedMark
        do throws(FleetError) {
            mark = try await within { () async throws(FleetError) in try await self.storedMark() }
        } catch {
            if error.code == .nodeIDInUse { await stop(on: error) } else { status.failed(error) }
            throw error
        }
        status.markSeen(mark.seq)
        let head = try readJournal { try journal.head().seq }
        do throws(FleetError) {
            mark = try await ReaderThread.run(niceness: configuration.readerNiceness, logger: logger) { reader async throws(FleetError) -> ShippedMark in
                var (mark, prepared): (ShippedMark, ShipBatch?) = (mark, nil)
                while mark.seq < head, let next = try await shipBatch(after: mark, prepared: prepared, reader: reader, through: head) {
                    (mark, prepared) = (next.mark, next.prepared)
                }
                return mark
            }
        } catch {
            if error.code == .divergence || error.code == .nodeIDInUse { await stop(on: error) } else { status.failed(error) }
            throw error
        }
        return mark
    }

    /// What one batch did: the mark after it, whether it was a full batch (the shipper is behind),
    /// and the batch after it, read meanwhile.
    private struct Shipped: Sendable {
        var mark: ShippedMark
        var wasFull: Bool
        var prepared: ShipBatch?
    }

    /// Ships the next batch after `mark` (`prepared` when it was read already), reading the batch
    /// after it while PostgreSQL stores this one; `nil` when there is nothing to ship.
    private func shipBatch(after mark: ShippedMark, prepared: ShipBatch?, reader: ReaderThread, through limit: UInt64 = .max) async throws(FleetError) -> Shipped? {
        if let divergence = mark.divergence {
            throw .divergence(node: nodeID, seq: mark.seq, reason: "shipping of this node was stopped earlier: \(divergence)")
        }
        let batch: ShipBatch
        if let prepared, prepared.firstSeq == mark.seq + 1 {
            batch = prepared
        } else {
            let head = try readJournal { try journal.head().seq }
            guard head >= mark.seq else {
                throw .divergence(node: nodeID, seq: mark.seq, reason: "the local journal ends at seq \(head) but the store holds this node up to seq \(mark.seq): the data dir was replaced or rewound after shipping")
            }
            guard let read = try await reader.run({ () throws(FleetError) in try self.read(after: mark.seq, through: limit) }) else { return nil }
            batch = read
        }
        // The next batch is read on the reader thread while this task waits for PostgreSQL; a
        // failed read is left for the next call to meet again. A shipper that has caught up and
        // lingers reads the next batch after lingering instead.
        let wasFull = batch.entries.count >= configuration.batchSize
        let readsAhead = wasFull || configuration.linger == .zero
        let after = batch.lastSeq
        async let next = readsAhead ? try? await reader.run({ () throws(FleetError) in try self.read(after: after, through: limit) }) : nil
        let result = try await store.ship(
            batch, durable: configuration.durableCommits, secretHash: secretHash, limit: configuration.attemptLimit,
            beforeCommit: configuration.beforeCommit
        )
        status.shipped(result)
        shipped.publish(result.mark.seq)
        for run in result.collisions {
            logger.error("run id used on two nodes; the fleet keeps the first node's run and this node's entries, never merged", metadata: [
                "node_id": "\(nodeID)", "run_id": "\(run)",
            ])
        }
        return Shipped(mark: result.mark, wasFull: wasFull, prepared: await next)
    }

    /// The batch of local entries after `seq` (up to the batch size and `limit`); `nil` when there is none.
    private func read(after seq: UInt64, through limit: UInt64) throws(FleetError) -> ShipBatch? {
        guard seq < limit else { return nil }
        return try readJournal {
            let head = try journal.head().seq
            let entries = try journal.entries(from: seq + 1, through: limit, limit: configuration.batchSize)
            let records = try runRecords.withLock { try $0.records(touchedBy: entries, in: journal) }
            return ShipBatch(node: nodeID, entries: entries, records: records, head: head)
        }
    }

    /// The node's mark in the store, proving the node id with its secret when it has one.
    private func storedMark() async throws(FleetError) -> ShippedMark {
        guard let secretHash else { return try await store.mark(of: nodeID) }
        let journal = self.journal
        return try await store.claim(node: nodeID, secretHash: secretHash, limit: configuration.attemptLimit) { seq, hash in
            try journal.entry(seq)?.hash == hash
        }
    }

    /// Runs one attempt, failing it when it takes longer than ``Configuration/attemptLimit``
    /// (the attempt is cancelled and awaited before this returns; one that does not stop within
    /// ``fleetAbandonGrace`` is left behind and logged).
    @discardableResult
    private func within<T: Sendable>(_ body: @escaping @Sendable () async throws(FleetError) -> T) async throws(FleetError) -> T {
        do {
            let (logger, nodeID) = (logger, nodeID)
            return try await withFleetDeadline(configuration.attemptLimit, clock: clock, onAbandon: {
                logger.error("a fleet shipping attempt did not stop when cancelled; shipping goes on without waiting for it (its connections were closed)", metadata: ["node_id": "\(nodeID)"])
            }, body)
        } catch {
            throw await store.diagnose(error)
        }
    }

    /// Stops shipping for good: on a divergence (recorded in the store) or when another node
    /// holds this node id (nothing of its row is touched).
    private func stop(on error: FleetError) async {
        status.failed(error)
        guard error.code == .divergence else {
            logger.critical("this node id is in use by another node: this process does not ship", metadata: [
                "node_id": "\(nodeID)", "code": "\(error.code)", "error": "\(error.description)",
            ])
            return
        }
        logger.critical("fleet divergence: shipping of this node stopped, nothing was overwritten", metadata: [
            "node_id": "\(nodeID)", "code": "\(error.code)", "error": "\(error.description)",
        ])
        do {
            try await store.recordDivergence(node: nodeID, reason: error.description, secretHash: secretHash)
        } catch {
            logger.error("the divergence could not be recorded in the fleet store", metadata: ["node_id": "\(nodeID)", "error": "\(error.description)"])
        }
    }

    private func readJournal<T>(_ body: () throws -> T) throws(FleetError) -> T {
        do {
            return try body()
        } catch let error as FleetError {
            throw error
        } catch {
            throw .journal(error)
        }
    }
}
