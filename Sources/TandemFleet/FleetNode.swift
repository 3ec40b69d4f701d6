public import Logging
import NIOPosix
import PostgresNIO
public import ServiceLifecycle
public import TandemDomain
public import TandemFleetReading
public import TandemJournal

/// This node's part in the fleet store, as `serve` runs it: the services to run beside the HTTP
/// server (the connection pool, then the shipper), the ``FleetReading`` the HTTP layer reads
/// through, and the wait of `TANDEM_FLEET_DURABILITY=sync`. The one way in for `serve`: nothing
/// of PostgreSQL shows outside this module.
public final class FleetNode: Sendable {
    /// Run these in the service group, before the server: stopped in reverse order, the shipper
    /// ends before its pool.
    public let services: [any Service]
    /// Reads of other nodes' runs and this node's shipping, for `/api/runs/…`, `/health`, `/metrics`.
    public let reading: any FleetReading
    private let shipper: FleetShipper
    /// The pool's own event loop: PostgreSQL's protocol work (a batch binds about a megabyte of
    /// rows) never waits in line with HTTP connections (docs/DESIGN.md, `make bench-fleet`).
    private let loop: MultiThreadedEventLoopGroup

    /// A pool to `endpoint` and a shipper of `journal` under `nodeID`, proven by `secretHash`.
    /// - Parameters:
    ///   - synchronous: `TANDEM_FLEET_DURABILITY=sync`: a failing shipper makes the node unavailable.
    ///   - poolLogger: for the pool's own messages (it logs every failed connection attempt).
    public init(
        endpoint: FleetEndpoint, journal: Journal, nodeID: String, secretHash: String, configuration: FleetShipper.Configuration,
        synchronous: Bool, clock: any MonotonicClock, logger: Logger, poolLogger: Logger
    ) {
        loop = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let client = PostgresClient(configuration: endpoint.clientConfiguration, eventLoopGroup: loop, backgroundLogger: poolLogger)
        let store = FleetStore(client: client, logger: logger, endpoint: endpoint)
        shipper = FleetShipper(journal: journal, store: store, nodeID: nodeID, secretHash: secretHash, configuration: configuration, logger: logger)
        services = [client, shipper]
        reading = FleetLink(store: store, status: shipper.status, clock: clock, synchronous: synchronous)
    }

    /// Returns once this node's entries through `seq` are in the store (sync durability), or
    /// when the calling task is cancelled (``FleetShipper/waitUntilShipped(_:)``).
    @discardableResult
    public func waitUntilShipped(_ seq: UInt64) async -> Bool {
        await shipper.waitUntilShipped(seq)
    }

    /// Stops the pool's event loop; call after ``services`` have ended.
    public func shutdown() async throws {
        try await loop.shutdownGracefully()
    }
}
