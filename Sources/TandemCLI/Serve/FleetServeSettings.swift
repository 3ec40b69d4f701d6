import ArgumentParser
import TandemFleet

/// `serve`'s fleet settings (SPEC §7): `TANDEM_FLEET_URL`, `TANDEM_NODE_ID`, `TANDEM_FLEET_BATCH`.
struct FleetServeSettings {
    /// This data dir's node id (always resolved: a mismatch stops `serve` even without a fleet).
    var nodeID: String
    /// The fleet store; `nil` when no fleet is configured.
    var url: String?
    var shipper: FleetShipper.Configuration
    /// `TANDEM_FLEET_DURABILITY=sync`: a commit's frames go out only once its entries are in the store.
    var synchronous: Bool

    init(dataDirectory: String, environment: EnvironmentSettings = EnvironmentSettings()) throws {
        nodeID = try NodeIdentity.resolve(configured: environment.optional("TANDEM_NODE_ID"), dataDirectory: dataDirectory)
        url = environment.optional("TANDEM_FLEET_URL")
        if let url { _ = try FleetURL.configuration(url) }
        shipper = FleetShipper.Configuration(batchSize: try Self.batchSize(environment))
        synchronous = try environment.choice("TANDEM_FLEET_DURABILITY", default: Durability.async) == .sync
        if synchronous, url == nil { throw ValidationError("TANDEM_FLEET_DURABILITY=sync needs TANDEM_FLEET_URL") }
        // In async durability the fleet copy trails the journal anyway (the loss window is the
        // lag); in sync durability frames wait for the shipper.
        shipper.trailsServer = !synchronous
        // A fault point for the crash tests only: the process kills itself (SIGKILL) inside the
        // ship transaction of the batch that reaches this seq, after its rows were written.
        if let kill = try environment.killSwitch("TANDEM_FLEET_TEST_KILL_BEFORE_COMMIT_SEQ") {
            shipper.beforeCommit = { last in kill(last) }
        }
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

    /// The settings as log lines, the password masked.
    var summary: [(String, String)] {
        [("node_id", nodeID), ("fleet", url.map { "\(FleetURL.redacted($0)), batch \(shipper.batchSize), durability \(synchronous ? "sync (frames wait for PostgreSQL)" : "async")" } ?? "off")]
    }
}
