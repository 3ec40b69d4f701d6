/// A node's shipped mark as stored in `tandem.nodes`.
public struct ShippedMark: Sendable, Equatable {
    /// The last seq of the node in the store (0 before the first batch).
    public var seq: UInt64
    /// The SHA-256 (hex) of that entry's line: the next entry's `prev` must equal it.
    public var hash: String
    /// Why shipping of the node stopped, when a divergence was found.
    public var divergence: String?
}

/// A node as `tandem fleet status` shows it.
public struct FleetNodeRow: Sendable, Equatable {
    public var nodeID: String
    /// The node's journal head as its shipper last reported it.
    public var headSeq: UInt64
    public var shippedSeq: UInt64
    public var shippedHash: String
    public var updatedAt: String
    public var divergence: String?
}

/// What one shipped batch did.
public struct ShipResult: Sendable, Equatable {
    /// The node's mark after the batch.
    public var mark: ShippedMark
    /// Entries newly stored.
    public var stored: Int
    /// Entries that were already stored and found byte-identical.
    public var alreadyStored: Int
    /// Run ids this batch used that another node had used first (newly detected).
    public var collisions: [String]
}

/// A run's `DualRunRecord` (canonical JSON) as shipped with a batch; the store reads its run id
/// and columns from the JSON itself. Text, made on the shipper's reader thread, as the store
/// sends it.
public struct FleetRunRecord: Sendable, Equatable {
    public var json: String

    public init(json: String) {
        self.json = json
    }
}

/// A run as `tandem runs list --fleet` shows it.
public struct FleetRunSummary: Sendable, Equatable {
    public var runID: String
    public var nodeID: String
    public var status: String
    public var startedAt: String?
    public var durationMs: Double?
    public var flashLatencyMs: Double?
    public var proLatencyMs: Double?
}

/// One shipped row, as verify reads it.
public struct FleetJournalRow: Sendable {
    public var seq: UInt64
    public var line: [UInt8]
    /// Whether the derived columns (seq, ts, run_id, type, data, prev) agree with `line`.
    public var columnsAgree: Bool
}
