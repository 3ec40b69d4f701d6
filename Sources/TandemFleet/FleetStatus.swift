import Synchronization

/// What the shipper of this node has done, shared with `/health` and `/metrics`.
public final class FleetStatus: Sendable {
    /// A consistent copy of the counters.
    public struct Snapshot: Sendable, Equatable {
        public var nodeID: String
        /// The node's mark in the store as last seen (0 before the store was reached).
        public var shippedSeq: UInt64 = 0
        /// The last error, until a batch ships again; the divergence while shipping is stopped.
        public var lastError: String?
        /// Whether shipping stopped on a divergence (`fleet_divergence`).
        public var diverged = false
        /// The stable code of ``lastError`` (`node_id_in_use`: this process never ships).
        public var lastErrorCode: String?
        public var shippedEntries: UInt64 = 0
        public var shipErrors: UInt64 = 0
        public var runIDCollisions: UInt64 = 0

        /// Whether another node holds this node id (`node_id_in_use`): this process never ships.
        public var nodeIDInUse = false
        /// Whether shipping stopped for good (divergence, node id in use).
        public var stopped: Bool { diverged || nodeIDInUse }
        /// Whether shipping fails now: the last attempt failed (or shipping stopped).
        public var isFailing: Bool { lastError != nil || stopped }

        /// Entries of the journal (whose head is `head`) not in the store yet.
        public func lag(head: UInt64) -> UInt64 { head > shippedSeq ? head - shippedSeq : 0 }
    }

    private let state: Mutex<Snapshot>

    public init(nodeID: String) {
        state = Mutex(Snapshot(nodeID: nodeID))
    }

    public var snapshot: Snapshot { state.withLock { $0 } }

    func markSeen(_ seq: UInt64) {
        state.withLock { $0.shippedSeq = seq }
    }

    func shipped(_ result: ShipResult) {
        state.withLock {
            $0.shippedSeq = result.mark.seq
            $0.shippedEntries += UInt64(result.stored)
            $0.runIDCollisions += UInt64(result.collisions.count)
            $0.lastError = nil
            $0.lastErrorCode = nil
        }
    }

    /// An attempt reached PostgreSQL and did what it meant to (even with nothing to ship).
    func attemptSucceeded() {
        state.withLock {
            guard !$0.stopped else { return }
            $0.lastError = nil
            $0.lastErrorCode = nil
        }
    }

    func failed(_ error: FleetError) {
        state.withLock {
            $0.shipErrors += 1
            // For `/health`: PostgreSQL's own words stay in the log.
            $0.lastError = error.publicDescription
            $0.lastErrorCode = error.code.rawValue
            if error.code == .divergence { $0.diverged = true }
            if error.code == .nodeIDInUse { $0.nodeIDInUse = true }
        }
    }
}
