public import TandemJournal

/// What the HTTP layer reads of the fleet store (SPEC §7), without knowing how it is stored:
/// runs of other nodes for the `/api/runs/{id}`, `/events` and `/stream` fallbacks, and this
/// node's shipping for `/health` and `/metrics`. `TandemFleet` implements it over PostgreSQL;
/// `serve` hands it to the server.
public protocol FleetReading: Sendable {
    /// The node that ran `runID` and its shipped entries, in seq order; `nil` when the fleet
    /// store does not have the run. Bounded in time and in reads at once: never unbounded work
    /// per request.
    /// - Throws: ``FleetUnreadable`` when the store cannot be read now.
    func run(_ runID: String) async throws(FleetUnreadable) -> (nodeID: String, entries: [JournalEntry])?

    /// This node's shipping now.
    var shipping: FleetShipping { get }

    /// The fleet's metric families in Prometheus text form, for a journal whose head is `head`.
    func prometheus(head: UInt64) -> String
}

/// This node's shipping to the fleet store, as `/health` reports it.
public struct FleetShipping: Sendable, Equatable {
    public var nodeID: String
    /// The node's mark in the store as last seen.
    public var shippedSeq: UInt64
    /// The last failure, in words fit for HTTP clients (never PostgreSQL's own message).
    public var lastError: String?
    /// The stable code of ``lastError``.
    public var lastErrorCode: String?
    /// Whether shipping stopped on a divergence.
    public var diverged: Bool
    /// Whether runs cannot be served now: sync durability while shipping fails
    /// (`/health` 503 `fleet_unavailable`).
    public var holdsRuns: Bool

    public init(nodeID: String, shippedSeq: UInt64, lastError: String?, lastErrorCode: String?, diverged: Bool, holdsRuns: Bool) {
        self.nodeID = nodeID
        self.shippedSeq = shippedSeq
        self.lastError = lastError
        self.lastErrorCode = lastErrorCode
        self.diverged = diverged
        self.holdsRuns = holdsRuns
    }

    /// Entries of the journal (whose head is `head`) not in the store yet.
    public func lag(head: UInt64) -> UInt64 { head > shippedSeq ? head - shippedSeq : 0 }
}

/// A read of the fleet store that failed: its stable code (`fleet_unavailable`, …) and a
/// sentence for HTTP clients, which never holds PostgreSQL's own message.
public struct FleetUnreadable: Error, Sendable, Equatable {
    public let code: String
    public let message: String

    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }
}
