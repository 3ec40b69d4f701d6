import Hummingbird
import TandemJournal
import TandemRuns

/// `GET /health`: whether the service can take runs, with the journal's head.
struct HealthRoutes {
    let journal: Journal
    let coordinator: RunCoordinator

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

        var status: String
        var journal: JournalHealth
        var activeRuns: Int
        var shuttingDown: Bool

        enum CodingKeys: String, CodingKey {
            case status, journal
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
            activeRuns: coordinator.activeRuns,
            shuttingDown: coordinator.isShuttingDown
        )
        return JSONBody.response(body, status: writable ? .ok : .serviceUnavailable)
    }
}
