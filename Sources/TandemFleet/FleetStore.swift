public import Logging
import PostgresNIO

/// The fleet store's queries: shipping batches, marks, node claims, lookups and verify's reads
/// (SPEC §7). Shipping is in `FleetStore+shipping.swift`, reads in `FleetStore+reading.swift`.
public struct FleetStore: Sendable {
    /// The connection pool; its `run()` must be running while the store is used.
    let client: PostgresClient
    public let logger: Logger
    /// Where the pool connects, when known: a call that gets no connection in time is diagnosed
    /// with a connection of its own (a refused password is then named as such).
    let endpoint: FleetEndpoint?

    init(client: PostgresClient, logger: Logger, endpoint: FleetEndpoint? = nil) {
        self.client = client
        self.logger = logger
        self.endpoint = endpoint
    }

    /// Runs `body` with a store on `endpoint` whose pool runs meanwhile, and stops the pool after
    /// (a command's session; `serve` uses ``FleetNode``). Every store call has its own deadline.
    public static func with<T>(_ endpoint: FleetEndpoint, logger: Logger, _ body: (FleetStore) async throws -> T) async throws -> T {
        let client = PostgresClient(configuration: endpoint.clientConfiguration, backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(FleetStore(client: client, logger: logger, endpoint: endpoint))
        }
    }

    /// How long one read (status, lookups, verify's pages) or a single statement of the CLI may take.
    public static let readLimit: Duration = .seconds(5)

    /// How long a migration may take (it waits for another node's under an advisory lock).
    public static let migrationLimit: Duration = .seconds(30)

    /// Brings the schema to ``FleetSchema/currentVersion`` (``FleetSchema/migrate(_:logger:)``), within `limit`.
    /// - Returns: the versions applied now.
    @discardableResult
    public func migrate(limit: Duration = FleetStore.migrationLimit) async throws(FleetError) -> [Int] {
        try await bounded(limit) { try await FleetSchema.migrate(client, logger: logger) }
    }

    // MARK: Marks and claims

    /// The node's mark, registering the node on first use.
    public func mark(of node: String) async throws(FleetError) -> ShippedMark {
        try await bounded(Self.readLimit) {
            try await client.checkedQuery(Self.registeringNode(node, secretHash: nil), logger: logger) { rows in try await Self.mark(of: node, in: rows).mark }
        }
    }

    /// Registers `node` with `secretHash` on first use, or proves that this process is the node
    /// that owns the row (SPEC §11, "Node identity"), and returns its mark.
    ///
    /// A row with the same secret hash is this node's. A row from before secrets existed (no
    /// hash) is claimed when `continues` says the local journal holds the stored mark's entry
    /// (`shipped_seq` with `shipped_hash`); a row with another hash, or one whose chain the local
    /// journal does not continue, is another node's: ``FleetError/nodeIDInUse(_:)``, and nothing
    /// of the row changes.
    /// - Parameter continues: whether the local journal's entry at the seq has the hash.
    public func claim(
        node: String, secretHash: String, limit: Duration = FleetStore.readLimit, continues: @escaping @Sendable (UInt64, String) throws -> Bool
    ) async throws(FleetError) -> ShippedMark {
        try await bounded(limit) {
            try await client.checkedTransaction(logger: logger) { connection in
                let (mark, stored) = try await Self.mark(
                    of: node, in: try await connection.checkedQuery(Self.registeringNode(node, secretHash: secretHash), logger: logger)
                )
                if stored == secretHash { return mark }
                guard stored == nil, try mark.seq == 0 || continues(mark.seq, mark.hash) else { throw FleetError.nodeIDInUse(node) }
                try await connection.checkedQuery(
                    "UPDATE tandem.nodes SET secret_hash = \(secretHash) WHERE node_id = \(node) AND secret_hash IS NULL", logger: logger
                )
                logger.notice("claimed the fleet row of this node id by its chain", metadata: ["node_id": "\(node)", "shipped_seq": "\(mark.seq)"])
                return mark
            }
        }
    }

    /// Registers `node` on first use (with `secretHash`) and returns its mark's row: an upsert
    /// that changes nothing of an existing row, so that it returns the row in one round trip
    /// (and, in a transaction, locks it).
    static func registeringNode(_ node: String, secretHash: String?) -> PostgresQuery {
        """
        INSERT INTO tandem.nodes AS n (node_id, secret_hash) VALUES (\(node), \(secretHash))
        ON CONFLICT (node_id) DO UPDATE SET node_id = n.node_id
        RETURNING shipped_seq, shipped_hash, divergence, secret_hash
        """
    }

    /// The mark and the stored secret hash in the rows of ``registeringNode(_:secretHash:)``.
    static func mark(of node: String, in rows: PostgresRowSequence) async throws -> (mark: ShippedMark, secretHash: String?) {
        for try await (seq, hash, divergence, secret) in rows.decode((Int64, String, String?, String?).self) {
            return (ShippedMark(seq: UInt64(max(seq, 0)), hash: hash, divergence: divergence), secret)
        }
        throw FleetError.database("the node row of \(node) vanished")
    }

    // MARK: Errors and limits

    /// Runs `body` within `limit` (``withFleetDeadline(_:onAbandon:_:)``), turning PostgreSQL's errors into
    /// ``FleetError``s; a call that got no answer in time is diagnosed (``diagnose(_:)``).
    func bounded<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws(FleetError) -> T {
        do {
            let logger = logger
            return try await withFleetDeadline(limit, onAbandon: {
                logger.error("a PostgreSQL operation of the fleet store did not stop when cancelled; it was left behind and its connections closed")
            }) { () async throws(FleetError) -> T in
                do {
                    return try await body()
                } catch {
                    throw FleetError.from(error)
                }
            }
        } catch {
            throw await diagnose(error)
        }
    }

    /// `error`, or, when it only says that PostgreSQL did not answer (the pool keeps retrying a
    /// refused login until the caller's limit), what a connection of its own finds: a refused
    /// password is then ``FleetError/authenticationFailed(underlying:)``, not a timeout.
    func diagnose(_ error: FleetError) async -> FleetError {
        guard error.code == .unavailable, error.underlying == nil, let endpoint else { return error }
        let configuration: PostgresConnection.Configuration
        do {
            configuration = try endpoint.connectionConfiguration()
        } catch {
            return .invalidURL("the TLS settings cannot be used (\(error))")
        }
        let logger = self.logger
        do {
            try await withFleetDeadline(.seconds(3)) { () async throws(FleetError) in
                do {
                    let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
                    try? await connection.close()
                } catch {
                    throw FleetError.from(error)
                }
            }
            return error
        } catch let found {
            return found.underlying == nil ? error : found
        }
    }
}
