import ArgumentParser
import TandemFleet

/// `serve`'s fleet settings (SPEC §7): `TANDEM_FLEET_URL`, `TANDEM_NODE_ID`, `TANDEM_FLEET_BATCH`.
struct FleetServeSettings {
    /// This data dir's node id (always resolved: a mismatch stops `serve` even without a fleet).
    var nodeID: String
    /// The SHA-256 of the data dir's node secret, proving the node id to the fleet store; `nil`
    /// when no fleet is configured (no secret is made then).
    var secretHash: String?
    /// The fleet store; `nil` when no fleet is configured.
    var endpoint: FleetEndpoint?
    var shipper: FleetShipper.Configuration
    /// `TANDEM_FLEET_DURABILITY=sync`: a commit's frames go out only once its entries are in the store.
    var synchronous: Bool

    init(dataDirectory: String, environment: EnvironmentSettings = EnvironmentSettings()) throws {
        nodeID = try NodeIdentity.resolve(configured: environment.optional("TANDEM_NODE_ID"), dataDirectory: dataDirectory)
        endpoint = try environment.optional("TANDEM_FLEET_URL").map { url throws(FleetError) in try FleetEndpoint(url) }
        if endpoint != nil {
            secretHash = try NodeIdentity.secretHash(in: dataDirectory)
        } else {
            secretHash = nil
        }
        shipper = FleetShipper.Configuration(batchSize: try Self.batchSize(environment))
        synchronous = try environment.choice("TANDEM_FLEET_DURABILITY", default: Durability.async) == .sync
        if synchronous, endpoint == nil { throw ValidationError("TANDEM_FLEET_DURABILITY=sync needs TANDEM_FLEET_URL") }
        // In async durability the fleet copy trails the journal anyway (the loss window is the
        // lag); in sync durability frames wait for the shipper.
        shipper.trailsServer = !synchronous
    }

    /// `TANDEM_FLEET_BATCH`: entries per ship transaction (`serve` and `tandem fleet ship`).
    static func batchSize(_ environment: EnvironmentSettings = EnvironmentSettings()) throws -> Int {
        try environment.integer("TANDEM_FLEET_BATCH", default: 2_000, range: Self.batchSizes)
    }

    /// The batch sizes accepted.
    static let batchSizes = 1...100_000

    /// `TANDEM_FLEET_DURABILITY`'s values.
    private enum Durability: String, CaseIterable {
        /// Frames go out once the journal has the entries; the fleet copy trails.
        case async
        /// Frames wait until the entries are in the fleet store too.
        case sync
    }

    /// The settings as log lines, without the password.
    var summary: [(String, String)] {
        [("node_id", nodeID), ("fleet", endpoint.map { "\($0.displayForm), batch \(shipper.batchSize), durability \(synchronous ? "sync (frames wait for PostgreSQL)" : "async")" } ?? "off")]
    }
}
