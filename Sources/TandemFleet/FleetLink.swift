import TandemDomain
import TandemFleetReading
import TandemJournal

/// What `serve` hands the HTTP layer when a fleet store is configured (``FleetReading``):
/// bounded reads of other nodes' runs and the shipper's counters for `/health` and `/metrics`.
struct FleetLink: FleetReading {
    /// Reads of runs that are not local (bounded: ``FleetRunLookup``).
    let runs: FleetRunLookup
    let status: FleetStatus
    /// `TANDEM_FLEET_DURABILITY=sync`: frames wait for shipping, so a failing shipper makes the
    /// node unavailable (`/health` 503 `fleet_unavailable`).
    let synchronous: Bool

    init(store: FleetStore, status: FleetStatus, clock: any MonotonicClock, synchronous: Bool = false) {
        self.runs = FleetRunLookup(store: store, clock: clock)
        self.status = status
        self.synchronous = synchronous
    }

    func run(_ runID: String) async throws(FleetUnreadable) -> (nodeID: String, entries: [JournalEntry])? {
        do {
            return try await runs.run(runID)
        } catch {
            throw FleetUnreadable(code: error.code.rawValue, message: error.publicDescription)
        }
    }

    var shipping: FleetShipping {
        let snapshot = status.snapshot
        return FleetShipping(
            nodeID: snapshot.nodeID, shippedSeq: snapshot.shippedSeq, lastError: snapshot.lastError, lastErrorCode: snapshot.lastErrorCode,
            diverged: snapshot.diverged, holdsRuns: synchronous && snapshot.isFailing
        )
    }

    func prometheus(head: UInt64) -> String {
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
