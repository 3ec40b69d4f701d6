import Hummingbird
import TandemFleet
import TandemJournal
import TandemRuns

/// `GET /health`: whether the service can take runs, with the journal's head.
struct HealthRoutes {
    let journal: Journal
    let coordinator: RunCoordinator
    let fleet: FleetLink?

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
            var diverged: Bool

            enum CodingKeys: String, CodingKey {
                case diverged
                case nodeID = "node_id"
                case shippedSeq = "shipped_seq"
                case lagEntries = "lag_entries"
                case lastError = "last_error"
            }

            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(nodeID, forKey: .nodeID)
                try container.encode(shippedSeq, forKey: .shippedSeq)
                try container.encode(lagEntries, forKey: .lagEntries)
                try container.encode(lastError, forKey: .lastError)
                try container.encode(diverged, forKey: .diverged)
            }
        }

        var status: String
        var journal: JournalHealth
        var fleet: FleetHealth?
        var activeRuns: Int
        var shuttingDown: Bool

        enum CodingKeys: String, CodingKey {
            case status, journal, fleet
            case activeRuns = "active_runs"
            case shuttingDown = "shutting_down"
        }
    }

    func register(on router: Router<TandemRequestContext>) {
        router.get("/health") { _, _ in await health() }
    }

    private func health() async -> Response {
        // After a failure, find out whether the journal can write again instead of repeating it:
        // a load balancer that only asks /health would otherwise never send traffic back.
        if journal.lastAppendFailure != nil { try? await journal.probeWrite() }
        let failure = journal.lastAppendFailure
        let head = try? journal.head()
        let writable = head != nil && failure == nil
        let body = Health(
            status: writable ? "ok" : "unavailable",
            journal: .init(
                headSeq: head?.seq ?? 0, headHash: head?.hashHex ?? "", writable: writable,
                durability: journal.configuration.durability.rawValue, error: failure?.message
            ),
            fleet: fleet.map { link in
                let snapshot = link.status.snapshot
                return .init(
                    nodeID: snapshot.nodeID, shippedSeq: snapshot.shippedSeq, lagEntries: snapshot.lag(head: head?.seq ?? 0),
                    lastError: snapshot.lastError, diverged: snapshot.diverged
                )
            },
            activeRuns: coordinator.activeRuns,
            shuttingDown: coordinator.isShuttingDown
        )
        return JSONBody.response(body, status: writable ? .ok : .serviceUnavailable)
    }
}
