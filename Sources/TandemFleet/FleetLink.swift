/// What `serve` hands the HTTP layer when a fleet store is configured: the store for the read
/// fallback and the shipper's counters for `/health` and `/metrics`.
public struct FleetLink: Sendable {
    public let store: FleetStore
    public let status: FleetStatus

    public init(store: FleetStore, status: FleetStatus) {
        self.store = store
        self.status = status
    }

    /// The fleet's metric families in Prometheus text form, for a journal whose head is `head`.
    public func prometheus(head: UInt64) -> String {
        let snapshot = status.snapshot
        let node = snapshot.nodeID
        var text = ""
        func family(_ name: String, _ type: String, _ help: String, _ value: UInt64) {
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name){node_id=\"\(node)\"} \(value)\n"
        }
        family("tandem_fleet_lag_entries", "gauge", "Journal entries of this node not yet in the fleet store (live).", snapshot.lag(head: head))
        family("tandem_fleet_shipped_entries_total", "counter", "Entries this process stored in the fleet store.", snapshot.shippedEntries)
        family("tandem_fleet_ship_errors_total", "counter", "Failed ship attempts (each retried from the stored mark), divergences included.", snapshot.shipErrors)
        family("tandem_fleet_run_id_collisions_total", "counter", "Run ids this node used that another node had shipped first (never merged).", snapshot.runIDCollisions)
        family("tandem_fleet_divergence", "gauge", "1 when shipping of this node stopped on a fleet_divergence.", snapshot.diverged ? 1 : 0)
        return text
    }
}
