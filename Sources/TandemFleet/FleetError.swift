/// What can go wrong in the fleet audit store: every case carries a sentence an operator can act on
/// and a stable code (SPEC §7).
public enum FleetError: Error, Sendable, Equatable, CustomStringConvertible {
    /// TANDEM_FLEET_URL (or --url) is not a usable postgres:// address.
    case invalidURL(String)
    /// PostgreSQL could not be reached or refused a statement.
    case database(String)
    /// The configured node id differs from the one stored in the data dir.
    case nodeIdentityMismatch(configured: String, stored: String)
    /// A node id that is not usable (empty, too long, or with characters outside [A-Za-z0-9._-]).
    case invalidNodeID(String)
    /// A node's stored rows differ from what the node sends or holds: shipping of that node stops.
    case divergence(node: String, seq: UInt64, reason: String)
    /// The fleet schema is newer than this binary knows.
    case schemaTooNew(found: Int, known: Int)
    /// The node id file in the data dir could not be read or written.
    case nodeIdentityFile(String)
    /// The local journal could not be read.
    case journal(String)

    /// Stable machine-readable code.
    public var code: String {
        switch self {
        case .invalidURL: "fleet_invalid_url"
        case .database: "fleet_unavailable"
        case .nodeIdentityMismatch: "node_id_mismatch"
        case .invalidNodeID: "invalid_node_id"
        case .divergence: "fleet_divergence"
        case .schemaTooNew: "fleet_schema_too_new"
        case .nodeIdentityFile: "node_id_file"
        case .journal: "journal_unavailable"
        }
    }

    public var description: String {
        switch self {
        case .invalidURL(let detail):
            "The fleet URL (TANDEM_FLEET_URL or --url) is not usable: \(detail)."
        case .database(let detail):
            "The fleet store (PostgreSQL) failed: \(detail)."
        case .nodeIdentityMismatch(let configured, let stored):
            "TANDEM_NODE_ID is \(configured) but this data dir belongs to node \(stored); use the stored id or another data dir."
        case .invalidNodeID(let id):
            "The node id \(id.debugDescription) is not usable: use 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' or '-'."
        case .divergence(let node, let seq, let reason):
            "Fleet divergence on node \(node) at seq \(seq): \(reason); shipping of this node stopped, nothing was overwritten."
        case .schemaTooNew(let found, let known):
            "The fleet schema is at version \(found) but this tandem knows only up to \(known); upgrade tandem."
        case .nodeIdentityFile(let detail):
            "The node id file could not be used: \(detail)."
        case .journal(let detail):
            "The local journal could not be read: \(detail)."
        }
    }
}
