import Hummingbird
import TandemFleetReading
import TandemJournal
import TandemRuns

/// `GET /health`: whether the service can take runs, with the journal's head.
struct HealthRoutes {
    let journal: Journal
    let coordinator: RunCoordinator
    let fleet: (any FleetReading)?
    /// Whether API keys are on: then a request without a valid key gets only `{"status"}`.
    let keysRequired: Bool

    private struct Health: Encodable {
        struct JournalHealth: Encodable {
            var headSeq: UInt64
            var headHash: String
            var writable: Bool
            var durability: String
            var error: String?

            enum CodingKeys: String, CodingKey {
                case writable, durability, error
                case headSeq = "head_seq"
                case headHash = "head_hash"
            }
        }

        /// This node's shipping to the fleet store (SPEC §7), when configured.
        struct FleetHealth: Encodable {
            var nodeID: String
            var shippedSeq: UInt64
            var lagEntries: UInt64
            var lastError: String?
            /// The stable code of ``lastError``; `node_id_in_use`: this process never ships.
            var lastErrorCode: String?
            var diverged: Bool

            enum CodingKeys: String, CodingKey {
                case diverged
                case nodeID = "node_id"
                case shippedSeq = "shipped_seq"
                case lagEntries = "lag_entries"
                case lastError = "last_error"
                case lastErrorCode = "last_error_code"
            }

            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(nodeID, forKey: .nodeID)
                try container.encode(shippedSeq, forKey: .shippedSeq)
                try container.encode(lagEntries, forKey: .lagEntries)
                try container.encode(lastError, forKey: .lastError)
                try container.encode(lastErrorCode, forKey: .lastErrorCode)
                try container.encode(diverged, forKey: .diverged)
            }
        }

        var status: String
        /// Why the node is unavailable, when it is not the journal (`fleet_unavailable`).
        var code: String?
        var journal: JournalHealth
        var fleet: FleetHealth?
        var activeRuns: Int
        var shuttingDown: Bool

        enum CodingKeys: String, CodingKey {
            case status, code, journal, fleet
            case activeRuns = "active_runs"
            case shuttingDown = "shutting_down"
        }
    }

    func register(on router: Router<TandemRequestContext>) {
        router.get("/health") { _, context in await health(authenticated: !keysRequired || context.keyID != nil) }
    }

    /// What `/health` says to a client without a key while keys are on: whether the service can
    /// take runs, and nothing about the journal, its head or the fleet.
    private struct Status: Encodable {
        var status: String
    }

    private func health(authenticated: Bool) async -> Response {
        // After a failure, find out whether the journal can write again instead of repeating it:
        // a load balancer that only asks /health would otherwise never send traffic back.
        if journal.lastAppendFailure != nil { try? await journal.probeWrite() }
        let failure = journal.lastAppendFailure
        let head = try? journal.head()
        let writable = head != nil && failure == nil
        // Sync durability: while shipping fails every run's frames wait, so the node is unavailable.
        let shipping = fleet?.shipping
        let fleetHolds = shipping?.holdsRuns ?? false
        let available = writable && !fleetHolds
        guard authenticated else {
            return JSONBody.response(Status(status: available ? "ok" : "unavailable"), status: available ? .ok : .serviceUnavailable)
        }
        let body = Health(
            status: available ? "ok" : "unavailable",
            code: fleetHolds ? "fleet_unavailable" : nil,
            journal: .init(
                headSeq: head?.seq ?? 0, headHash: head?.hashHex ?? "", writable: writable,
                durability: journal.configuration.durability.rawValue, error: failure?.message
            ),
            fleet: shipping.map { snapshot in
                .init(
                    nodeID: snapshot.nodeID, shippedSeq: snapshot.shippedSeq, lagEntries: snapshot.lag(head: head?.seq ?? 0),
                    lastError: snapshot.lastError, lastErrorCode: snapshot.lastErrorCode, diverged: snapshot.diverged
                )
            },
            activeRuns: coordinator.activeRuns,
            shuttingDown: coordinator.isShuttingDown
        )
        return JSONBody.response(body, status: available ? .ok : .serviceUnavailable)
    }
}
