/// What went wrong in the fleet audit store: a stable ``code`` (SPEC §7), a sentence an operator
/// can act on, and the underlying error when there was one (a PostgreSQL error keeps its SQLSTATE).
///
/// The sentence never holds the store's password. PostgreSQL's own messages are in it for the
/// operator (logs, the CLI) but ``publicDescription`` leaves them out for HTTP clients.
public struct FleetError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Stable machine-readable codes; new ones do not break callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String

        private init(_ rawValue: String) {
            self.rawValue = rawValue
        }

        public var description: String { rawValue }

        /// TANDEM_FLEET_URL (or --url) is not a usable postgres:// address, or its password source is unusable.
        public static let invalidURL = Code("fleet_invalid_url")
        /// PostgreSQL could not be reached, did not answer in time, or refused a statement.
        public static let unavailable = Code("fleet_unavailable")
        /// PostgreSQL refused the user name or password (SQLSTATE 28P01 / 28000).
        public static let authenticationFailed = Code("fleet_authentication_failed")
        /// The configured node id differs from the one stored in the data dir.
        public static let nodeIdentityMismatch = Code("node_id_mismatch")
        /// Another process ships under this node id with another secret (SPEC §11).
        public static let nodeIDInUse = Code("node_id_in_use")
        /// A node id that is not usable.
        public static let invalidNodeID = Code("invalid_node_id")
        /// A node's stored rows differ from what the node sends or holds: shipping of that node stops.
        public static let divergence = Code("fleet_divergence")
        /// The fleet schema is newer than this binary knows.
        public static let schemaTooNew = Code("fleet_schema_too_new")
        /// The node id or node secret file in the data dir could not be read or written.
        public static let nodeIdentityFile = Code("node_id_file")
        /// The local journal could not be read.
        public static let journal = Code("journal_unavailable")
    }

    public let code: Code
    /// The whole sentence, for the operator (logs, the CLI).
    public let description: String
    /// The sentence without what PostgreSQL said, for HTTP clients.
    public let publicDescription: String
    /// What failed underneath (a `PSQLError`, a journal error), kept for logs and checks.
    public let underlying: (any Error & Sendable)?

    init(_ code: Code, _ description: String, forClients publicDescription: String? = nil, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.description = description
        self.publicDescription = publicDescription ?? description
        self.underlying = underlying
    }

    public static func == (lhs: FleetError, rhs: FleetError) -> Bool {
        lhs.code == rhs.code && lhs.description == rhs.description
    }

    // MARK: Cases

    public static func invalidURL(_ detail: String) -> FleetError {
        FleetError(.invalidURL, "The fleet URL (TANDEM_FLEET_URL or --url) is not usable: \(detail).")
    }

    /// PostgreSQL failed; `detail` may hold the server's own words (kept from HTTP clients).
    public static func database(_ detail: String, underlying: (any Error & Sendable)? = nil) -> FleetError {
        FleetError(
            .unavailable, "The fleet store (PostgreSQL) failed: \(detail).",
            forClients: "The fleet store (PostgreSQL) failed.", underlying: underlying
        )
    }

    /// No answer within `limit` (PostgreSQL unreachable, stalled, or the pool had no connection).
    public static func timedOut(_ limit: Duration) -> FleetError {
        FleetError(.unavailable, "The fleet store (PostgreSQL) did not answer within \(limit).")
    }

    /// Too many reads of the fleet store at once (HTTP fallback reads are bounded).
    public static func busy(_ limit: Int) -> FleetError {
        FleetError(.unavailable, "The fleet store is busy: \(limit) reads of other nodes' runs are running; retry shortly.")
    }

    public static func authenticationFailed(underlying: (any Error & Sendable)?) -> FleetError {
        FleetError(
            .authenticationFailed,
            "The fleet store (PostgreSQL) refused the user name or password: check the user in TANDEM_FLEET_URL and the password (URL, PGPASSWORD or TANDEM_FLEET_PASSWORD_FILE).",
            forClients: "The fleet store (PostgreSQL) refused this node's credentials.", underlying: underlying
        )
    }

    public static func nodeIdentityMismatch(configured: String, stored: String) -> FleetError {
        FleetError(
            .nodeIdentityMismatch,
            "TANDEM_NODE_ID is \(configured) but this data dir belongs to node \(stored); use the stored id or another data dir."
        )
    }

    public static func nodeIDInUse(_ node: String) -> FleetError {
        FleetError(
            .nodeIDInUse,
            "The node id \(node) is in use by another node (its secret differs from this data dir's): this process does not ship; give it another TANDEM_NODE_ID, or its own data dir."
        )
    }

    public static func invalidNodeID(_ id: String) -> FleetError {
        FleetError(.invalidNodeID, "The node id \(id.debugDescription) is not usable: use 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' or '-'.")
    }

    public static func divergence(node: String, seq: UInt64, reason: String) -> FleetError {
        FleetError(.divergence, "Fleet divergence on node \(node) at seq \(seq): \(reason); shipping of this node stopped, nothing was overwritten.")
    }

    public static func schemaTooNew(found: Int, known: Int) -> FleetError {
        FleetError(.schemaTooNew, "The fleet schema is at version \(found) but this tandem knows only up to \(known); upgrade tandem.")
    }

    public static func nodeIdentityFile(_ detail: String) -> FleetError {
        FleetError(.nodeIdentityFile, "The node identity file could not be used: \(detail).")
    }

    public static func journal(_ error: any Error & Sendable) -> FleetError {
        FleetError(.journal, "The local journal could not be read: \(error).", underlying: error)
    }
}
